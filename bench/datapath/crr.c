/* Connection rate (TCP connect/request/response/close) generator for bench/datapath: the same
 * transaction netperf's TCP_CRR counts. Built by the bench with cc.
 *   crr server <ip> <port>           accept, read 1 byte, write 1 byte, close; forever
 *   crr client <ip> <port> <seconds>  repeat connect, write 1, read 1, close; print transactions/s */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct sockaddr_in address(const char *ip, const char *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(port)) };
	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
		fprintf(stderr, "crr: bad address %s\n", ip);
		exit(2);
	}
	return a;
}

static int serve(struct sockaddr_in a)
{
	int one = 1, s = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 4096)) {
		perror("crr server");
		return 1;
	}
	for (;;) {
		char b;
		int c = accept(s, NULL, NULL);
		if (c < 0)
			continue;
		if (read(c, &b, 1) == 1)
			(void)!write(c, &b, 1);
		close(c);
	}
}

static int client(struct sockaddr_in a, double seconds)
{
	long done = 0, failed = 0;
	double start = now_s(), end = start + seconds;
	while (now_s() < end) {
		char b = 'x';
		int s = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(s, (struct sockaddr *)&a, sizeof(a)) == 0 && write(s, &b, 1) == 1 && read(s, &b, 1) == 1)
			done++;
		else
			failed++;
		close(s);
	}
	printf("%.1f %ld\n", done / (now_s() - start), failed);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "server"))
		return serve(address(argv[2], argv[3]));
	if (argc == 5 && !strcmp(argv[1], "client"))
		return client(address(argv[2], argv[3]), atof(argv[4]));
	fprintf(stderr, "usage: crr server <ip> <port> | crr client <ip> <port> <seconds>\n");
	return 2;
}
