/* static-hello.c — a statically linked program for test_trace_lib: the preload library cannot
 * see inside it, and must report it (PK_TRACE_STATIC) rather than miss it silently.  With
 * --wait it prints "ready" and waits for a signal (test_trace_attach: nothing can be loaded
 * into it either). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--wait") == 0) {
		printf("ready\n");
		fflush(stdout);
		pause();
		return 0;
	}
	printf("static %s\n", argc > 1 ? argv[1] : "hello");
	return 0;
}
