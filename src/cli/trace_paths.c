/* trace_paths.c — `parikshan trace analyze|paths|report`: a stub until the analyzer lands. */
#include "cli/cli.h"
#include "common/args.h"

int pk_cli_trace_paths(int argc, char **argv)
{
	return pk_cli_fail(PK_EXIT_RUNTIME, argc > 0 ? argv[0] : "trace", "not built yet");
}
