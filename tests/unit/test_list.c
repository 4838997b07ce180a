/* test_list.c — the intrusive list: init, add_tail order, del, linked/empty, container_of
 * and deleting while iterating with pk_list_for_each_safe. */
#include "common/list.h"
#include "unit.h"

struct item {
	int v;
	struct pk_list node;
};

/* Writes the values of the list, in order, into out; returns how many. */
static int values(struct pk_list *head, int *out, int max)
{
	struct pk_list *pos, *tmp;
	int n = 0;

	pk_list_for_each_safe(pos, tmp, head)
	{
		if (n < max)
			out[n] = pk_container_of(pos, struct item, node)->v;
		n++;
	}
	return n;
}

static void test_init_empty(void)
{
	struct pk_list head, node;
	struct pk_list *pos, *tmp;
	int visits = 0;

	pk_list_init(&head);
	CHECK(pk_list_empty(&head));
	CHECK(head.next == &head && head.prev == &head);
	pk_list_init(&node);
	CHECK(!pk_list_linked(&node));
	pk_list_for_each_safe(pos, tmp, &head) visits++;
	CHECK_EQ_INT(visits, 0);
}

static void test_add_del(void)
{
	struct pk_list head;
	struct item it[4];
	int v[8];

	pk_list_init(&head);
	for (int i = 0; i < 4; i++) {
		it[i].v = i + 1;
		pk_list_init(&it[i].node);
		pk_list_add_tail(&head, &it[i].node);
	}
	CHECK(!pk_list_empty(&head));
	CHECK(pk_list_linked(&it[2].node));
	CHECK_EQ_INT(values(&head, v, 8), 4);
	CHECK(v[0] == 1 && v[1] == 2 && v[2] == 3 && v[3] == 4);
	CHECK(head.prev == &it[3].node && head.next == &it[0].node);

	/* delete from the middle, the head end and the tail end */
	pk_list_del(&it[1].node);
	CHECK(!pk_list_linked(&it[1].node));
	CHECK(it[1].node.next == &it[1].node && it[1].node.prev == &it[1].node);
	CHECK_EQ_INT(values(&head, v, 8), 3);
	CHECK(v[0] == 1 && v[1] == 3 && v[2] == 4);
	pk_list_del(&it[0].node);
	pk_list_del(&it[3].node);
	CHECK_EQ_INT(values(&head, v, 8), 1);
	CHECK_EQ_INT(v[0], 3);
	CHECK(head.next == &it[2].node && head.prev == &it[2].node);
	/* a deleted node can be added again, at the tail */
	pk_list_add_tail(&head, &it[0].node);
	CHECK_EQ_INT(values(&head, v, 8), 2);
	CHECK(v[0] == 3 && v[1] == 1);
	pk_list_del(&it[2].node);
	pk_list_del(&it[0].node);
	CHECK(pk_list_empty(&head));
	/* deleting an unlinked (self-linked) node is harmless */
	pk_list_del(&it[0].node);
	CHECK(!pk_list_linked(&it[0].node));
	CHECK(pk_list_empty(&head));
}

static void test_for_each_safe_deleting(void)
{
	struct pk_list head, *pos, *tmp;
	struct item it[10];
	int v[16], visited = 0;

	pk_list_init(&head);
	for (int i = 0; i < 10; i++) {
		it[i].v = i;
		pk_list_add_tail(&head, &it[i].node);
	}
	/* drop the even ones while walking */
	pk_list_for_each_safe(pos, tmp, &head)
	{
		struct item *x = pk_container_of(pos, struct item, node);

		visited++;
		if (x->v % 2 == 0)
			pk_list_del(pos);
	}
	CHECK_EQ_INT(visited, 10);
	CHECK_EQ_INT(values(&head, v, 16), 5);
	for (int i = 0; i < 5; i++)
		CHECK_EQ_INT(v[i], 2 * i + 1);
	for (int i = 0; i < 10; i++)
		CHECK_EQ_INT(pk_list_linked(&it[i].node), i % 2 == 1);
	/* and then every node */
	visited = 0;
	pk_list_for_each_safe(pos, tmp, &head)
	{
		visited++;
		pk_list_del(pos);
	}
	CHECK_EQ_INT(visited, 5);
	CHECK(pk_list_empty(&head));
}

static void test_container_of(void)
{
	struct item x = { .v = 77 };

	CHECK(pk_container_of(&x.node, struct item, node) == &x);
	CHECK_EQ_INT(pk_container_of(&x.node, struct item, node)->v, 77);
}

int main(void)
{
	UNIT_RUN(test_init_empty);
	UNIT_RUN(test_add_del);
	UNIT_RUN(test_for_each_safe_deleting);
	UNIT_RUN(test_container_of);
	return unit_done();
}
