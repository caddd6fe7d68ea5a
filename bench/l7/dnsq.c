/* DNS query generator for bench/l7: one UDP socket connected to <ip>:53 asks A <name> with one
 * query outstanding, for <seconds>; a query unanswered after 1 s counts as lost and the next one
 * goes; an answer whose rcode is not NOERROR counts as failed. Built by the bench with cc, run inside the client pod's network namespace.
 *   dnsq <ip> <name> <seconds>   prints "<answered> <lost> <failed> <p50 us> <p99 us>" */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Writes the query (header, QNAME labels, QTYPE A, QCLASS IN) for `name`; its length, or -1. */
static int encode_query(unsigned char *buf, size_t cap, const char *name)
{
	size_t n = 12, len = strlen(name);
	memset(buf, 0, 12);
	buf[2] = 0x01;  /* RD */
	buf[5] = 1;     /* QDCOUNT */
	for (const char *p = name; *p;) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		if (l == 0 || l > 63 || n + l + 6 > cap || len > 253)
			return -1;
		buf[n++] = l;
		memcpy(buf + n, p, l);
		n += l;
		p += l + (dot ? 1 : 0);
	}
	buf[n++] = 0;
	buf[n++] = 0; buf[n++] = 1;  /* A */
	buf[n++] = 0; buf[n++] = 1;  /* IN */
	return n;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: dnsq <ip> <name> <seconds>\n");
		return 2;
	}
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(53) };
	if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) {
		fprintf(stderr, "dnsq: bad address %s\n", argv[1]);
		return 2;
	}
	unsigned char q[300], r[1500];
	int qlen = encode_query(q, sizeof(q), argv[2]);
	if (qlen < 0) {
		fprintf(stderr, "dnsq: bad name %s\n", argv[2]);
		return 2;
	}
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct timeval tv = { .tv_sec = 1 };
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(s, (struct sockaddr *)&a, sizeof(a))) {
		perror("dnsq connect");
		return 1;
	}
	size_t cap = 1 << 16, answered = 0, lost = 0, failed = 0;
	double *lat = malloc(cap * sizeof(double));
	double end = now_us() + atof(argv[3]) * 1e6;
	unsigned short id = 0;
	while (now_us() < end) {
		id++;
		q[0] = id >> 8;
		q[1] = id & 0xff;
		double t = now_us();
		if (send(s, q, qlen, 0) != qlen) {
			perror("dnsq send");
			return 1;
		}
		for (;;) {
			ssize_t n = recv(s, r, sizeof(r), 0);
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				lost++;
				break;
			}
			if (n < 0) {
				perror("dnsq recv");
				return 1;
			}
			if (n < 12 || r[0] != q[0] || r[1] != q[1])
				continue;  /* a late answer to an earlier query */
			if ((r[3] & 0x0f) != 0) {
				failed++;
				break;
			}
			if (answered == cap)
				lat = realloc(lat, (cap *= 2) * sizeof(double));
			lat[answered++] = now_us() - t;
			break;
		}
	}
	if (answered == 0) {
		printf("0 %zu %zu 0 0\n", lost, failed);
		return 0;
	}
	qsort(lat, answered, sizeof(double), by_value);
	printf("%zu %zu %zu %.0f %.0f\n", answered, lost, failed, lat[answered / 2], lat[(size_t)(answered * 0.99)]);
	return 0;
}
