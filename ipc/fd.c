/*
 * ipc/fd.c — descriptors over ca-server's control sockets (SCM_RIGHTS):
 * how the supervisor gives the front and the engine their ends of each
 * new socketpair when one of them was restarted.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "ipc/ipc.h"
#include "util/util.h"

int
ipc_fd_send(int ctl, int fd)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr mh;
	struct cmsghdr *cm;
	struct iovec iov;
	char b = IPC_CTL_FD;

	memset(&u, 0, sizeof(u));
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = &b;
	iov.iov_len = 1;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = u.buf;
	mh.msg_controllen = sizeof(u.buf);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	while (sendmsg(ctl, &mh, MSG_NOSIGNAL) == -1) {
		if (errno != EINTR)
			return ly_fail(LY_ERR_IO, "control socket: %s",
			    strerror(errno));
	}
	return LY_OK;
}

int
ipc_fd_recv(int ctl, int *fdp)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr mh;
	struct cmsghdr *cm;
	struct iovec iov;
	ssize_t n;
	char b = 0;
	int fd = -1;

	memset(&mh, 0, sizeof(mh));
	iov.iov_base = &b;
	iov.iov_len = 1;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = u.buf;
	mh.msg_controllen = sizeof(u.buf);
	while ((n = recvmsg(ctl, &mh, MSG_CMSG_CLOEXEC)) == -1) {
		if (errno != EINTR)
			return ly_fail(LY_ERR_IO, "control socket: %s",
			    strerror(errno));
	}
	if (n == 0)
		return ly_fail(LY_ERR_NOT_FOUND, "control socket closed");
	for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	if (b != IPC_CTL_FD || fd == -1 || (mh.msg_flags & MSG_CTRUNC)) {
		if (fd != -1)
			close(fd);
		return ly_fail(LY_ERR_IO, "control socket: not a descriptor");
	}
	*fdp = fd;
	return LY_OK;
}
