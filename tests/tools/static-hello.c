/* static-hello.c — a statically linked program for test_trace_lib: the preload library cannot
 * see inside it, and must report it (PK_TRACE_STATIC) rather than miss it silently. */
#include <stdio.h>

int main(int argc, char **argv)
{
	printf("static %s\n", argc > 1 ? argv[1] : "hello");
	return 0;
}
