/* proxy_serve.h — what `dup` and `agg` do around the proxy core once their flags are parsed:
 * resolve the addresses, create the proxy, report a failure in one error line, serve until a
 * signal.  The core prints nothing; every line the user sees about it is written here. */
#ifndef PK_CLI_PROXY_SERVE_H
#define PK_CLI_PROXY_SERVE_H

#include <stdint.h>

#include "cli/proxy_opts.h"
#include "common/sock.h"
#include "proxy/proxy.h"

/* Resolves host:port for the address called role into a, printing the error line of command
 * cmd ("parikshan: CMD: resolve ROLE host 'HOST': why") on failure.  Returns 0 or a negative
 * error. */
int pk_proxy_cli_resolve(const char *cmd, const char *role, const char *host, uint16_t port,
			 struct pk_addr *a);

/* Fills the shared part of cfg from c for command cmd (resolving the listen and admin
 * addresses); prints the error line and returns a negative error when one fails.  cfg keeps
 * a pointer to c->rec. */
int pk_proxy_cli_apply(const char *cmd, const struct pk_proxy_common *c,
		       struct pk_proxy_config *cfg);

/* Creates a proxy from cfg (its role names the error lines), serves until SIGINT/SIGTERM and
 * frees it; prints one "parikshan: ..." line on failure.  Returns a PK_EXIT_* code. */
int pk_proxy_cli_serve(const struct pk_proxy_config *cfg);

#endif
