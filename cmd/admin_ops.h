/*
 * cmd/admin_ops.h — ca-admin's commands for running an instance for
 * years: backup, restore (cmd/admin_ops.c). ca-admin.c dispatches to
 * admin_ops() by command name.
 */
#ifndef LANYARD_ADMIN_OPS_H
#define LANYARD_ADMIN_OPS_H

/*
 * Runs the command argv[0] ("backup", "restore", ...) on the instance
 * dir (NULL for restore, which takes --dir NEW itself). actor names the
 * operator in the audit log. Returns the exit status: 0, 1 failed, 2
 * usage.
 */
int	 admin_ops(const char *dir, const char *actor, int argc, char **argv);

/*
 * ca-admin status [--json] [--no-hsm] (cmd/admin_status.c): 0 nothing
 * needs action, 1 something does (listed) or the status could not be
 * read, 2 usage.
 */
int	 admin_status(const char *dir, int argc, char **argv);

#endif /* LANYARD_ADMIN_OPS_H */
