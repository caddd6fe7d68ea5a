/*
 * The star-wars demo's deathstar: a small HTTP/1.x server (default port 80, or argv[1]).
 *   POST /v1/request-landing  200 "Ship landed"
 *   PUT  /v1/exhaust-port     503 "Panic: deathstar exploded"
 *   GET  / (and /v1, /v1/)    200 a JSON description naming the serving pod (its hostname)
 *   anything else             404
 * One child process per connection (SIGCHLD ignored, so children are reaped by the kernel); each
 * answer closes its connection. SIGTERM and SIGINT end the server, also as a container's PID 1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

enum { HEAD_MAX = 16384, BODY_MAX = 1 << 20 };

static void on_stop(int sig) {
  (void)sig;
  _exit(0);
}

static void send_all(int fd, const char *data, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data += n;
    len -= (size_t)n;
  }
}

static void reply(int fd, int status, const char *reason, const char *type, const char *body) {
  char head[256];
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                   status, reason, type, strlen(body));
  send_all(fd, head, (size_t)n);
  send_all(fd, body, strlen(body));
}

/* The value of the Content-Length header in the request head, or 0. */
static long content_length(const char *head) {
  const char *line = strstr(head, "\r\n");
  while (line != NULL && line[2] != '\r') {
    line += 2;
    if (strncasecmp(line, "Content-Length:", 15) == 0) {
      long v = strtol(line + 15, NULL, 10);
      return v > 0 ? v : 0;
    }
    line = strstr(line, "\r\n");
  }
  return 0;
}

static void serve(int fd) {
  struct timeval timeout = {.tv_sec = 10};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  static char buf[HEAD_MAX + 1];
  size_t got = 0;
  char *end = NULL;
  while (end == NULL && got < HEAD_MAX) {
    ssize_t n = read(fd, buf + got, HEAD_MAX - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    got += (size_t)n;
    buf[got] = '\0';
    end = strstr(buf, "\r\n\r\n");
  }
  if (end == NULL) {
    reply(fd, 431, "Request Header Fields Too Large", "text/plain", "Request header too large\n");
    return;
  }
  long body_left = content_length(buf) - (long)(got - (size_t)(end + 4 - buf));
  if (body_left > BODY_MAX) body_left = BODY_MAX;
  char method[16] = "", path[1024] = "";
  if (sscanf(buf, "%15s %1023s", method, path) != 2) {
    reply(fd, 400, "Bad Request", "text/plain", "Bad request\n");
    return;
  }
  char *query = strchr(path, '?');
  if (query != NULL) *query = '\0';
  while (body_left > 0) {
    ssize_t n = read(fd, buf, body_left < HEAD_MAX ? (size_t)body_left : HEAD_MAX);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    body_left -= n;
  }

  int status;
  if (strcmp(method, "POST") == 0 && strcmp(path, "/v1/request-landing") == 0) {
    status = 200;
    reply(fd, status, "OK", "text/plain", "Ship landed\n");
  } else if (strcmp(method, "PUT") == 0 && strcmp(path, "/v1/exhaust-port") == 0) {
    status = 503;
    reply(fd, status, "Service Unavailable", "text/plain", "Panic: deathstar exploded\n");
  } else if (strcmp(method, "GET") == 0 && (strcmp(path, "/") == 0 || strcmp(path, "/v1") == 0 || strcmp(path, "/v1/") == 0)) {
    char host[256] = "", body[512];
    gethostname(host, sizeof host - 1);
    snprintf(body, sizeof body,
             "{\"name\":\"Death Star\",\"hostname\":\"%s\",\"model\":\"DS-1 Orbital Battle Station\"}\n", host);
    status = 200;
    reply(fd, status, "OK", "application/json", body);
  } else {
    status = 404;
    reply(fd, status, "Not Found", "text/plain", "Not found\n");
  }
  printf("%s %s %d\n", method, path, status);
  fflush(stdout);
  shutdown(fd, SHUT_WR);
}

int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 80;
  if (port <= 0 || port > 65535) {
    fprintf(stderr, "deathstar: invalid port \"%s\"\n", argv[1]);
    return 2;
  }
  signal(SIGTERM, on_stop);
  signal(SIGINT, on_stop);
  signal(SIGCHLD, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port), .sin_addr.s_addr = htonl(INADDR_ANY)};
  if (ls < 0 || bind(ls, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(ls, 128) != 0) {
    perror("deathstar: listen");
    return 1;
  }
  printf("deathstar listening on :%d\n", port);
  fflush(stdout);
  for (;;) {
    int fd = accept(ls, NULL, NULL);
    if (fd < 0) continue;
    pid_t pid = fork();
    if (pid == 0) {
      close(ls);
      serve(fd);
      close(fd);
      _exit(0);
    }
    close(fd);
  }
}
