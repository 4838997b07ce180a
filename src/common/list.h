/* list.h — intrusive circular doubly-linked list (as in the Linux kernel, minus the magic).
 *
 * An initialised head points to itself; a node not on any list is self-linked after
 * pk_list_del(), so pk_list_linked() tells whether it is on one.
 */
#ifndef PK_COMMON_LIST_H
#define PK_COMMON_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct pk_list {
	struct pk_list *prev, *next;
};

/* Makes l an empty list (or an unlinked node). */
static inline void pk_list_init(struct pk_list *l)
{
	l->prev = l->next = l;
}

/* Tells whether the list is empty (or the node unlinked). */
static inline bool pk_list_empty(const struct pk_list *l)
{
	return l->next == l;
}

/* Tells whether node n is on a list. */
static inline bool pk_list_linked(const struct pk_list *n)
{
	return n->next != n;
}

/* Appends node n at the tail of list l. */
static inline void pk_list_add_tail(struct pk_list *l, struct pk_list *n)
{
	n->prev = l->prev;
	n->next = l;
	l->prev->next = n;
	l->prev = n;
}

/* Unlinks n from its list and leaves it self-linked. */
static inline void pk_list_del(struct pk_list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	pk_list_init(n);
}

#define pk_container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* Iterates over the nodes of list head; safe against unlinking the current node. */
#define pk_list_for_each_safe(pos, tmp, head)                                                      \
	for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head);                           \
	     (pos) = (tmp), (tmp) = (pos)->next)

#endif
