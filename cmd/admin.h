/*
 * cmd/admin.h — what the files of ca-admin share: the instance directory,
 * the messages and exit statuses, and one function per command.
 *
 * cmd/ca-admin.c holds main(), the global options and the table of
 * commands; cmd/admin_opts.c the helpers below; the commands live in one
 * file per job (admin_cert.c: certificates, admin_ca.c: the instance and
 * its revocation data, admin_token.c: enrollment tokens).
 *
 * Exit status: 0 success, 1 the operation failed (the message says why),
 * 2 usage error.
 */
#ifndef LANYARD_CMD_ADMIN_H
#define LANYARD_CMD_ADMIN_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>
#include <openssl/x509.h>

struct ca;
struct ocsp_responder;

#define EXIT_USAGE	2

/* The instance directory (--dir, LANYARD_DIR or the default instance). */
extern const char *admin_dir;
/* The command being run, for messages ("issue", "token create"). */
extern const char *admin_cmdname;

/* Prints "ca-admin: CMD: <error>: <detail>" for r on stderr. */
void	 admin_fail(int r);
/* A command's exit status for r: 0, or 1 after admin_fail(r). */
int	 admin_exit(int r);
/* Prints why (if not NULL) and the usage u on stderr; returns EXIT_USAGE. */
int	 admin_usage(const char *u, const char *why);
/*
 * 1 if argv[1..argc) holds --help or -h (before a "--"): every command
 * answers it with admin_help(), whatever else the line holds.
 */
int	 admin_help_asked(int argc, char **argv);
/* Prints the usage u (and about, if not NULL) on stdout; returns 0. */
int	 admin_help(const char *u, const char *about);
/* "cli:<user>": the operator, as the audit log names them. Static buffer. */
const char *admin_actor(void);

/*
 * Reads a CSR (or other input) from path, or standard input for "-".
 * The caller frees *buf.
 */
int	 admin_read_input(const char *path, unsigned char **buf, size_t *len);

/*
 * Opens the instance with its OCSP responder, so that every certificate
 * is stored with its pre-signed response. With optional set, a responder
 * that cannot be had (HSM away) is a warning, not a failure.
 */
int	 admin_open_with_ocsp(unsigned int flags, int optional,
	    struct ca **cap, struct ocsp_responder **respp);

/*
 * An output file, made ready before anything changes state: the file
 * is created (a temporary file beside path, mode 0644), so a path that
 * cannot be written is refused before a certificate is issued, and
 * admin_out_commit() renames it into place (write, fsync, rename, fsync
 * of the directory). With path NULL the output is standard output.
 */
struct admin_out {
	const char	*path;
	char		*tmp;
	int		 fd;
};
int	 admin_out_open(const char *path, struct admin_out *o);
int	 admin_out_commit(struct admin_out *o, const void *data, size_t len);
/* Removes the temporary file if it was not committed. NULL-safe. */
void	 admin_out_abort(struct admin_out *o);

/*
 * An output directory (publish --out, crl publish --out): created if
 * missing, then checked to be a directory this process can write, before
 * anything changes state.
 */
int	 admin_outdir_check(const char *dir);

/* The certificate (and the issuing CA with chain) as PEM, into o. */
int	 admin_output_cert(struct ca *ca, X509 *x, int chain,
	    struct admin_out *o);
/* Prints o as indented JSON and a newline. */
int	 admin_print_json(json_t *o);

/* The commands: each parses its own argv (argv[0] is its name). */
int	 admin_init(int, char **);
int	 admin_config(int, char **);
int	 admin_issue(int, char **);
int	 admin_reissue(int, char **);
int	 admin_revoke(int, char **);
int	 admin_list(int, char **);
int	 admin_show(int, char **);
int	 admin_token(int, char **);
int	 admin_audit(int, char **);
int	 admin_crl(int, char **);
int	 admin_ocsp(int, char **);
int	 admin_publish(int, char **);
int	 admin_root(int, char **);
int	 admin_issuer(int, char **);

#endif
