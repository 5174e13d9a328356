/*
 * health: the checks a host must pass after its apply.  http checks are
 * fetched by tend itself (libcurl), command checks run on the host; each
 * is tried 1 + retries times, interval apart, within its timeout.
 */
#ifndef TEND_HEALTH_H
#define TEND_HEALTH_H

#include "render.h"
#include "ssh.h"

/* libcurl's global setup, before threads start when they will use it
 * (health checks, the reporter); again is harmless. */
void health_global_init(void);

/*
 * Run every check of d on the host behind c.  Returns 0 when all pass;
 * -1 with err_set naming the check, what it saw and the tries made.
 */
int health_run(struct ssh *c, const struct desired *d);

#endif
