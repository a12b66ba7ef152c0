// SPDX-License-Identifier: MIT
/*
 * The metrics exporter of monitor and record (export.h): --metrics FILE
 * rewritten atomically (a temporary file in the same directory, then
 * rename(2), as node_exporter's textfile collector wants), and a small,
 * strict HTTP/1.1 server for GET /metrics.
 *
 * The server lives in the monitor's event loop and must never hold up
 * the fault path or grow: every socket is non-blocking; at most
 * EXPORT_MAX_CONNS connections (one more is accepted and closed at once);
 * a request (line and headers) must fit EXPORT_REQ_MAX bytes and arrive,
 * and its answer leave, within EXPORT_TIMEOUT_NS of the accept, else
 * the connection is closed; one request per connection (Connection:
 * close); a request with a body, an unknown method or version, a bare
 * LF, a folded header, or an HTTP/1.1 request without Host is a 400.
 * The only memory per connection is its request buffer and, when the
 * socket did not take the whole answer at once, the rest of it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "export.h"

#define TICK_NS 200000000ull	/* timeouts and the file are looked at 5 times a second */

struct conn {
	int fd;			/* -1: free slot */
	uint64_t deadline;
	size_t len;		/* request bytes read */
	bool writing;
	char *out;		/* the answer's unsent rest */
	size_t out_len, out_off;
	char req[EXPORT_REQ_MAX];
};

struct exporter {
	struct export_cfg cfg;
	struct iopf_metrics *m;
	int epfd, timerfd, lfd;
	char *tmp;		/* FILE's temporary name */
	uint64_t next_file;
	bool file_warned;
	uint64_t served, refused;
	struct conn c[EXPORT_MAX_CONNS];
};

/* [ADDR:]PORT, [ADDR6]:PORT: the address (default 127.0.0.1) and port, or false. */
static bool split_listen(const char *arg, char *host, size_t hlen, char *port, size_t plen)
{
	const char *colon;

	if (arg[0] == '[') {
		const char *end = strchr(arg, ']');

		if (!end || end[1] != ':' || (size_t)(end - arg - 1) >= hlen)
			return false;
		snprintf(host, hlen, "%.*s", (int)(end - arg - 1), arg + 1);
		colon = end + 1;
	} else {
		colon = strrchr(arg, ':');
		if (colon && strchr(arg, ':') != colon)
			return false;	/* IPv6 needs brackets */
		if (colon && colon != arg) {
			if ((size_t)(colon - arg) >= hlen)
				return false;
			snprintf(host, hlen, "%.*s", (int)(colon - arg), arg);
		} else {
			snprintf(host, hlen, "127.0.0.1");
		}
	}
	snprintf(port, plen, "%s", colon ? colon + 1 : arg);
	if (!*port || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 ||
	    atoi(port) > 65535)
		return false;
	return *host != 0;
}

static int resolve(const char *arg, struct addrinfo **res)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE };
	char host[256], port[16];

	if (!split_listen(arg, host, sizeof(host), port, sizeof(port)))
		return EAI_NONAME;
	return getaddrinfo(host, port, &hints, res);
}

void export_arg_listen(struct argp_state *state, const char *arg)
{
	struct addrinfo *res = NULL;
	char shown[300];

	if (resolve(arg, &res)) {
		iopf_str_escape(arg, shown, sizeof(shown));
		argp_error(state, "--metrics-listen: '%s' is not [ADDR:]PORT with a numeric address "
			   "(127.0.0.1:9464, [::1]:9464)", shown);
	}
	freeaddrinfo(res);
}

static uint64_t now_ns(void)
{
	return iopf_time_now();
}

/* ---- the file ----------------------------------------------------------- */

static void write_file(struct exporter *ex)
{
	size_t len, off = 0;
	const char *text = iopf_metrics_text(ex->m, &len);
	int fd = open(ex->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int err = fd < 0 ? errno : 0;

	while (!err && off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			err = n < 0 ? errno : EIO;
		else
			off += (size_t)n;
	}
	if (fd >= 0 && close(fd) && !err)
		err = errno;
	if (!err && rename(ex->tmp, ex->cfg.file))
		err = errno;
	if (err) {
		if (fd >= 0)
			unlink(ex->tmp);
		if (!ex->file_warned)	/* once: the fault path goes on */
			p_warn("--metrics %s: %s (tried again every interval)",
			       ex->cfg.file, strerror(err));
		ex->file_warned = true;
	} else {
		ex->file_warned = false;
	}
}

/* ---- HTTP --------------------------------------------------------------- */

static void conn_close(struct exporter *ex, struct conn *c)
{
	epoll_ctl(ex->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->out);
	c->out = NULL;
	c->fd = -1;
}

/* Send what the socket takes now; close when done or on an error. */
static void conn_send(struct exporter *ex, struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0)
			break;
		c->out_off += (size_t)n;
	}
	conn_close(ex, c);
}

/*
 * Answer: status line, headers, and the body (HEAD: none).  The answer
 * is built in one buffer so that it goes out with one send() on a quiet
 * socket; whatever the socket does not take waits for EPOLLOUT.
 */
static void conn_answer(struct exporter *ex, struct conn *c, int status, const char *reason,
			const char *body, size_t blen, bool head_only, const char *ctype)
{
	char hdr[256];
	int h = snprintf(hdr, sizeof(hdr), "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, reason, ctype, blen);
	size_t total = (size_t)h + (head_only ? 0 : blen);
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };

	c->out = malloc(total);
	if (!c->out) {
		conn_close(ex, c);
		return;
	}
	memcpy(c->out, hdr, (size_t)h);
	if (!head_only && blen)
		memcpy(c->out + h, body, blen);
	c->out_len = total;
	c->out_off = 0;
	c->writing = true;
	shutdown(c->fd, SHUT_RD);	/* nothing more is read */
	epoll_ctl(ex->epfd, EPOLL_CTL_MOD, c->fd, &ev);
	if (status == 200)
		ex->served++;
	else
		ex->refused++;
	conn_send(ex, c);
}

static void conn_error(struct exporter *ex, struct conn *c, int status, const char *reason)
{
	char body[64];
	int n = snprintf(body, sizeof(body), "%d %s\n", status, reason);

	conn_answer(ex, c, status, reason, body, (size_t)n, false, "text/plain; charset=utf-8");
}

/* A header or request line character: visible ASCII, space or tab. */
static bool field_chars(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= 0x20 && p[i] < 0x7f) || p[i] == '\t'))
			return false;
	return true;
}

/*
 * The whole request head is in c->req[0..end) (ending in CRLF CRLF):
 * check it strictly and answer.
 */
static void conn_request(struct exporter *ex, struct conn *c, size_t end)
{
	char *p = c->req, *eol, *sp1, *sp2;
	bool head, v11, host = false;
	size_t len;

	eol = memmem(p, end, "\r\n", 2);
	len = (size_t)(eol - p);
	if (!field_chars(p, len) || !(sp1 = memchr(p, ' ', len)) ||
	    !(sp2 = memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - p))) ||
	    memchr(sp2 + 1, ' ', len - (size_t)(sp2 + 1 - p)))
		return conn_error(ex, c, 400, "Bad Request");
	if ((size_t)(eol - sp2 - 1) != 8 || (memcmp(sp2 + 1, "HTTP/1.1", 8) &&
					      memcmp(sp2 + 1, "HTTP/1.0", 8)))
		return conn_error(ex, c, 505, "HTTP Version Not Supported");
	v11 = !memcmp(sp2 + 1, "HTTP/1.1", 8);
	head = sp1 - p == 4 && !memcmp(p, "HEAD", 4);
	if (!head && !(sp1 - p == 3 && !memcmp(p, "GET", 3)))
		return conn_error(ex, c, 405, "Method Not Allowed");
	/* headers: name ":" value CRLF, no folding, no body */
	for (char *l = eol + 2; l < p + end - 2; l = eol + 2) {
		char *colon;

		eol = memmem(l, (size_t)(p + end - l), "\r\n", 2);
		len = (size_t)(eol - l);
		colon = memchr(l, ':', len);
		if (!len || !field_chars(l, len) || l[0] == ' ' || l[0] == '\t' || !colon ||
		    colon == l || memchr(l, ' ', (size_t)(colon - l)) || memchr(l, '\t', (size_t)(colon - l)))
			return conn_error(ex, c, 400, "Bad Request");
		if (colon - l == 4 && !strncasecmp(l, "Host", 4))
			host = true;
		if ((colon - l == 17 && !strncasecmp(l, "Transfer-Encoding", 17)) ||
		    (colon - l == 14 && !strncasecmp(l, "Content-Length", 14) &&
		     strspn(colon + 1, " \t0") < (size_t)(eol - colon - 1)))
			return conn_error(ex, c, 400, "Bad Request");
	}
	if (v11 && !host)
		return conn_error(ex, c, 400, "Bad Request");
	/* the target: /metrics, a query string allowed and ignored */
	len = (size_t)(sp2 - sp1 - 1);
	if (!(len >= 8 && !memcmp(sp1 + 1, "/metrics", 8) && (len == 8 || sp1[9] == '?')))
		return conn_error(ex, c, 404, "Not Found");

	size_t blen;
	const char *body = iopf_metrics_text(ex->m, &blen);

	conn_answer(ex, c, 200, "OK", body, blen, head, "text/plain; version=0.0.4; charset=utf-8");
}

static void conn_read(struct exporter *ex, struct conn *c)
{
	for (;;) {
		ssize_t n = recv(c->fd, c->req + c->len, sizeof(c->req) - c->len, 0);
		char *end;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0)
			return conn_close(ex, c);	/* the client went away */
		/*
		 * Refused as soon as it arrives: a control character (NUL, an
		 * escape...) or a byte past ASCII, and a bare LF (only CRLF
		 * ends lines).  TLS or junk gets its 400 at once.
		 */
		for (size_t i = c->len; i < c->len + (size_t)n; i++) {
			unsigned char b = (unsigned char)c->req[i];

			if ((b < 0x20 && b != '\r' && b != '\n' && b != '\t') || b >= 0x7f ||
			    (b == '\n' && (!i || c->req[i - 1] != '\r')))
				return conn_error(ex, c, 400, "Bad Request");
		}
		c->len += (size_t)n;
		end = memmem(c->req, c->len, "\r\n\r\n", 4);
		if (end) {
			if ((size_t)(end + 4 - c->req) != c->len)
				return conn_error(ex, c, 400, "Bad Request");	/* a body or a pipelined request */
			return conn_request(ex, c, c->len);
		}
		if (c->len == sizeof(c->req))
			return conn_error(ex, c, 431, "Request Header Fields Too Large");
	}
}

static void do_accept(struct exporter *ex)
{
	/* a bounded number a step: the fault path comes first */
	for (int k = 0; k < EXPORT_MAX_CONNS; k++) {
		int fd = accept4(ex->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c = NULL;

		if (fd < 0)
			return;
		for (size_t i = 0; i < EXPORT_MAX_CONNS && !c; i++)
			if (ex->c[i].fd < 0)
				c = &ex->c[i];
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

		if (!c || epoll_ctl(ex->epfd, EPOLL_CTL_ADD, fd, &ev)) {
			ex->refused++;
			close(fd);	/* full: closed at once */
			continue;
		}
		c->fd = fd;
		c->len = 0;
		c->writing = false;
		c->deadline = now_ns() + EXPORT_TIMEOUT_NS;
	}
}

static void on_tick(struct exporter *ex)
{
	uint64_t now = now_ns(), buf;

	if (read(ex->timerfd, &buf, sizeof(buf)) < 0 && errno != EAGAIN)
		return;
	for (size_t i = 0; i < EXPORT_MAX_CONNS; i++)
		if (ex->c[i].fd >= 0 && now >= ex->c[i].deadline)
			conn_close(ex, &ex->c[i]);
	if (ex->cfg.file && now >= ex->next_file) {
		ex->next_file = now + ex->cfg.interval_ns;
		write_file(ex);
	}
}

void exporter_step(struct exporter *ex)
{
	struct epoll_event ev[EXPORT_MAX_CONNS + 2];
	int n;

	if (!ex)
		return;
	n = epoll_wait(ex->epfd, ev, (int)(sizeof(ev) / sizeof(ev[0])), 0);
	for (int i = 0; i < n; i++) {
		struct conn *c = ev[i].data.ptr;

		if (c == (void *)&ex->timerfd)
			on_tick(ex);
		else if (c == (void *)&ex->lfd)
			do_accept(ex);
		else if (c->fd < 0)
			continue;	/* closed earlier in this batch */
		else if (c->writing)
			conn_send(ex, c);
		else
			conn_read(ex, c);
	}
}

static int listen_on(struct exporter *ex, const char *arg)
{
	struct addrinfo *res = NULL;
	int one = 1, rc, fd;
	char shown[300];
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &ex->lfd };

	iopf_str_escape(arg, shown, sizeof(shown));
	rc = resolve(arg, &res);
	if (rc) {
		p_err("--metrics-listen %s: %s", shown, gai_strerror(rc));
		return -EINVAL;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, EXPORT_MAX_CONNS)) {
		rc = -errno;
		p_err("--metrics-listen %s: %s", shown, strerror(-rc));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return rc;
	}
	freeaddrinfo(res);
	ex->lfd = fd;
	{
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		char host[NI_MAXHOST], port[NI_MAXSERV];

		if (!getsockname(fd, (struct sockaddr *)&ss, &sl) &&
		    !getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), port, sizeof(port),
				 NI_NUMERICHOST | NI_NUMERICSERV))
			p_info("metrics on http://%s%s%s:%s/metrics", ss.ss_family == AF_INET6 ? "[" : "",
			       host, ss.ss_family == AF_INET6 ? "]" : "", port);
	}
	return epoll_ctl(ex->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int exporter_new(struct exporter **exp, const struct export_cfg *cfg, struct iopf_metrics *m)
{
	struct exporter *ex;
	struct epoll_event ev = { .events = EPOLLIN };
	struct itimerspec its = { .it_interval = { 0, (long)TICK_NS }, .it_value = { 0, (long)TICK_NS } };
	int rc;

	*exp = NULL;
	if (!cfg->file && !cfg->listen)
		return 0;
	ex = calloc(1, sizeof(*ex));
	if (!ex)
		return -ENOMEM;
	ex->cfg = *cfg;
	ex->m = m;
	ex->lfd = -1;
	for (size_t i = 0; i < EXPORT_MAX_CONNS; i++)
		ex->c[i].fd = -1;
	ex->epfd = epoll_create1(EPOLL_CLOEXEC);
	ex->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (ex->epfd < 0 || ex->timerfd < 0) {
		rc = -errno;
		p_err("metrics: %s", strerror(-rc));
		exporter_free(ex);
		return rc;
	}
	ev.data.ptr = &ex->timerfd;
	timerfd_settime(ex->timerfd, 0, &its, NULL);
	epoll_ctl(ex->epfd, EPOLL_CTL_ADD, ex->timerfd, &ev);
	if (cfg->file) {
		if (asprintf(&ex->tmp, "%s.%d.tmp", cfg->file, (int)getpid()) < 0) {
			ex->tmp = NULL;
			exporter_free(ex);
			return -ENOMEM;
		}
		write_file(ex);	/* the file exists from the start */
		ex->next_file = now_ns() + cfg->interval_ns;
	}
	if (cfg->listen) {
		rc = listen_on(ex, cfg->listen);
		if (rc) {
			ex->cfg.file = NULL;	/* no last write of a run that did not start */
			exporter_free(ex);
			return rc;
		}
	}
	*exp = ex;
	return 0;
}

int exporter_fd(const struct exporter *ex)
{
	return ex ? ex->epfd : -1;
}

void exporter_free(struct exporter *ex)
{
	if (!ex)
		return;
	if (ex->cfg.file && ex->tmp)
		write_file(ex);
	for (size_t i = 0; i < EXPORT_MAX_CONNS; i++)
		if (ex->c[i].fd >= 0)
			conn_close(ex, &ex->c[i]);
	if (ex->lfd >= 0)
		close(ex->lfd);
	if (ex->timerfd >= 0)
		close(ex->timerfd);
	if (ex->epfd >= 0)
		close(ex->epfd);
	free(ex->tmp);
	free(ex);
}
