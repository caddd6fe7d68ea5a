/*
 * The services bench's load generator: one TCP flow at a time, so each figure is bound by the
 * per-packet latency of the path (where a datapath's overhead shows), not by bandwidth.
 *
 *   loadgen server PORT                        answer every 32-byte request with 32 bytes, on any
 *                                              number of connections (epoll, one thread)
 *   loadgen crr|rr SECONDS IP:PORT [IP:PORT..] run SECONDS (after 0.2 s uncounted) against the
 *                                              targets in turn, one operation each:
 *     crr: connect, request, response, close (with an RST: SO_LINGER 0, so no TIME_WAIT piles up
 *          ports and conntrack entries at thousands of connections per second);
 *     rr:  request/response on one connection per target, kept open.
 *
 * Alternating targets operation by operation makes them share whatever else the machine is doing,
 * so their ratio holds on a busy machine; every other cycle swaps the first two targets, so neither
 * always comes right after the same one (e.g. after another server process ran on the server's CPU). Each operation's time is charged to its target: a target's
 * rate is its operations divided by its own time. Prints one JSON line with, per target,
 * operations, rate, latency percentiles and failures, and the client's CPU time.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MSG 32
#define HIST_US 20000
#define MAX_TARGETS 4
#define MAX_FDS 65536
#define WARMUP_S 0.2

struct target {
	const char *text;
	struct sockaddr_in addr;
	int fd;
	unsigned long ops, failures;
	double busy_s;
	unsigned long hist[HIST_US + 1];
};

static struct target targets[MAX_TARGETS];

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int io_full(int fd, char *buf, size_t len, int writing)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = writing ? write(fd, buf + done, len - done) : read(fd, buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

static void set_opt(int fd, int level, int name, const void *v, socklen_t len)
{
	if (setsockopt(fd, level, name, v, len) < 0) {
		perror("setsockopt");
		exit(2);
	}
}

static int serve(int port)
{
	static unsigned char got[MAX_FDS];
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY) };
	int one = 1, ls = socket(AF_INET, SOCK_STREAM, 0), ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN }, ready[64];
	char buf[MSG];

	set_opt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 128) < 0) {
		perror("bind/listen");
		return 2;
	}
	ev.data.fd = ls;
	epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
	signal(SIGPIPE, SIG_IGN);
	memset(buf, 'r', sizeof(buf));
	for (;;) {
		int n = epoll_wait(ep, ready, 64, -1);
		for (int i = 0; i < n; i++) {
			int fd = ready[i].data.fd;
			if (fd == ls) {
				int c = accept(ls, NULL, NULL);
				if (c < 0 || c >= MAX_FDS) {
					if (c >= 0)
						close(c);
					continue;
				}
				set_opt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				got[c] = 0;
				ev.data.fd = c;
				epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				continue;
			}
			ssize_t r = read(fd, buf, MSG - got[fd]);
			if (r <= 0) {
				close(fd); /* EOF or RST; closing also leaves the epoll set */
				continue;
			}
			got[fd] += r;
			if (got[fd] == MSG) {
				got[fd] = 0;
				if (io_full(fd, buf, MSG, 1) < 0)
					close(fd);
			}
		}
	}
}

static int connect_to(const struct sockaddr_in *a, int rst)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct timeval limit = { .tv_sec = 1 };
	int one = 1, s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0)
		return -1;
	set_opt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	set_opt(s, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit)); /* bounds connect() too */
	set_opt(s, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
	if (rst)
		set_opt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	if (connect(s, (const struct sockaddr *)a, sizeof(*a)) < 0) {
		close(s);
		return -1;
	}
	return s;
}

/* One operation against t; returns whether it succeeded. */
static int operate(struct target *t, int crr)
{
	char req[MSG];
	int ok;
	memset(req, 'q', sizeof(req));
	if (t->fd < 0 && (t->fd = connect_to(&t->addr, crr)) < 0)
		return 0;
	ok = io_full(t->fd, req, MSG, 1) == 0 && io_full(t->fd, req, MSG, 0) == 0;
	if (crr || !ok) {
		close(t->fd);
		t->fd = -1;
	}
	return ok;
}

static long percentile_us(const struct target *t, double p)
{
	unsigned long want = (unsigned long)(p * t->ops), seen = 0;
	for (long i = 0; i <= HIST_US; i++) {
		seen += t->hist[i];
		if (seen > want)
			return i;
	}
	return HIST_US;
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static int client(int crr, double seconds, int n, char **specs)
{
	double start = now_s(), counted_from = start + WARMUP_S, end = counted_from + seconds, cpu0 = 0, t0;
	int counting = 0, succeeded = 0;

	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < n; i++) {
		char host[64];
		const char *colon = strrchr(specs[i], ':');
		struct target *t = &targets[i];
		if (!colon || colon - specs[i] >= (long)sizeof(host)) {
			fprintf(stderr, "bad target %s (IP:PORT)\n", specs[i]);
			return 2;
		}
		memcpy(host, specs[i], colon - specs[i]);
		host[colon - specs[i]] = 0;
		t->text = specs[i];
		t->fd = -1;
		t->addr.sin_family = AF_INET;
		t->addr.sin_port = htons(atoi(colon + 1));
		if (inet_pton(AF_INET, host, &t->addr.sin_addr) != 1) {
			fprintf(stderr, "bad address %s\n", host);
			return 2;
		}
	}
	for (unsigned long op = 0; (t0 = now_s()) < end; op++) {
		/* Odd cycles swap the first two targets, so each follows the same others equally often. */
		int i = op % n, odd_cycle = (op / n) % 2;
		struct target *t = &targets[odd_cycle && i < 2 && n > 1 ? 1 - i : i];
		int ok = operate(t, crr);
		double took = now_s() - t0;
		if (!counting && t0 >= counted_from) {
			counting = 1;
			cpu0 = cpu_s();
		}
		if (!counting)
			continue;
		t->busy_s += took;
		if (!ok) {
			t->failures++;
			continue;
		}
		t->ops++;
		t->hist[took * 1e6 > HIST_US ? HIST_US : (long)(took * 1e6)]++;
	}
	double cpu = cpu_s() - cpu0;
	printf("{\"mode\":\"%s\",\"seconds\":%.3f,\"cpu_s\":%.4f,\"targets\":[", crr ? "crr" : "rr", seconds, cpu);
	for (int i = 0; i < n; i++) {
		struct target *t = &targets[i];
		succeeded += t->ops > 0;
		printf("%s{\"target\":\"%s\",\"ops\":%lu,\"busy_s\":%.4f,\"rate\":%.1f,\"p50_us\":%ld,\"p99_us\":%ld,\"failures\":%lu}",
		       i ? "," : "", t->text, t->ops, t->busy_s, t->busy_s > 0 ? t->ops / t->busy_s : 0.0,
		       percentile_us(t, 0.5), percentile_us(t, 0.99), t->failures);
		if (t->fd >= 0)
			close(t->fd);
	}
	printf("]}\n");
	return succeeded == n ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "server") == 0)
		return serve(atoi(argv[2]));
	if (argc >= 4 && argc - 3 <= MAX_TARGETS && (strcmp(argv[1], "crr") == 0 || strcmp(argv[1], "rr") == 0))
		return client(strcmp(argv[1], "crr") == 0, atof(argv[2]), argc - 3, argv + 3);
	fprintf(stderr, "usage: %s server PORT | crr|rr SECONDS IP:PORT [IP:PORT...] (up to %d targets)\n", argv[0], MAX_TARGETS);
	return 2;
}
