/* text.h — bytes from outside made safe to print: printable ASCII only. */
#ifndef PK_COMMON_TEXT_H
#define PK_COMMON_TEXT_H

#include <stddef.h>

#define PK_TEXT_C_ESCAPES 1u /* also \r, \n, \t by name, and a backslash as \\ */

/* Writes src[0..n) into dst[0..cap) (cap >= 4), NUL-terminated, as printable ASCII: a byte
 * outside 0x20-0x7e as \xHH (with PK_TEXT_C_ESCAPES: \r, \n, \t by name and '\' as \\).
 * When it does not fit, cuts it after a whole character (never inside an escape) and ends it
 * with "...".  Returns the length written (4n + 1 bytes always fit). */
size_t pk_text_printable(char *dst, size_t cap, const void *src, size_t n, unsigned flags);

#endif
