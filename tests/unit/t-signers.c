/* Unit tests: what signers_check decides before ssh-keygen is asked. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "signers.h"
#include "tap.h"

int
main(void)
{
	struct buf sig = BUF_INIT, data = BUF_INIT;
	char *why = NULL;

	buf_adds(&data, "tree 0123\n\nmessage\n");
	buf_adds(&sig, "-----BEGIN PGP SIGNATURE-----\n\nabc\n"
	    "-----END PGP SIGNATURE-----");
	ok(signers_check("/nonexistent/allowed", &sig, &data, &why) < 0 &&
	    strstr(err_msg(), "cannot read the allowed signers file "
	    "/nonexistent/allowed"), "an unreadable file is an error, not "
	    "a verdict");
	ok(signers_check("/dev/null", &sig, &data, &why) == 1 && why &&
	    strcmp(why, "it has an OpenPGP signature, and tend checks SSH "
	    "signatures only") == 0, "an OpenPGP signature is refused");
	free(why);
	buf_reset(&sig);
	buf_adds(&sig, "-----BEGIN SIGNED MESSAGE-----\nx\n");
	ok(signers_check("/dev/null", &sig, &data, &why) == 1 && why &&
	    strstr(why, "not SSH"), "so is any other kind");
	free(why);
	buf_free(&sig);
	buf_free(&data);
	return tap_done();
}
