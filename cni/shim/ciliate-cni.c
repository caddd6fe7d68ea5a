/*
 * ciliate-cni, the CNI plugin's native relay (`npm run build:cni-shim` builds it into
 * build/cni/ciliate-cni). A container runtime execs the plugin once per pod operation and starting
 * Node costs ~45 ms, so this relay only moves bytes: it sends the CNI_* environment and the
 * configuration to the node agent's unix socket as one raw frame, the agent runs the TypeScript
 * plugin logic (cni/plugin.ts) on it, and the relay prints the answer and exits with its code.
 *
 * Frame (cni/raw-frame.ts): "ciliate-cni-raw 1\n", "KEY=VALUE\n" for each forwarded CNI_* variable
 * that is set, "\n", the stdin bytes, then a half-close. Answer: the decimal exit code, "\n", and
 * the bytes for stdout until EOF. A frame cut short is never mistaken for a whole one: the header
 * ends with an empty line, and a JSON object cut short no longer parses (only trailing whitespace
 * can go unnoticed).
 *
 * Whatever it cannot relay as is goes to the TypeScript plugin (bin/ciliate-cni) with the same
 * environment and the same stdin, so the answer is the plugin's own: VERSION, an absent or unknown
 * CNI_COMMAND, a CNI_* value holding a newline, a frame over 1 MiB, a configuration whose
 * top-level "socket" this scanner cannot read exactly, and a socket it cannot connect to. Once a
 * frame is on its way that fallback is unsafe (an ADD could run twice), so a failure after
 * connecting is printed here as a CNI error (relay_error). A copy installed alone (the agent
 * image's node setup puts it into /opt/cni/bin, with no checkout beside it) answers VERSION itself
 * (answer_version) and reports what needs the TypeScript plugin as a CNI error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* The agent's request cap (agent/cni-server.ts). */
#define MAX_FRAME (1 << 20)
/* Largest answer read; more is treated as unreadable. */
#define MAX_ANSWER (16 << 20)
/* After the agent's own 120 s limit (cni/protocol.ts), before the node runner's 150 s kill. */
#define ANSWER_TIMEOUT_MS 130000
/* Deepest nesting skipped in a configuration; deeper goes to the TypeScript plugin. */
#define MAX_DEPTH 64
/* Room for a socket path and its terminating NUL. */
#define SUN_PATH_SIZE sizeof(((struct sockaddr_un *)0)->sun_path)
#define MAGIC "ciliate-cni-raw 1\n"
#define DEFAULT_VERSION "1.0.0"
/* The versions cni/spec.ts supports (SUPPORTED_VERSIONS), as JSON strings. */
#define SUPPORTED_JSON "\"1.0.0\",\"1.1.0\""

static const char *const FORWARDED[] = {"CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_ARGS", "CNI_PATH"};
static const char *const RELAYED_COMMANDS[] = {"ADD", "DEL", "CHECK", "STATUS"};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* A growable byte buffer. */
struct buf {
	char *data;
	size_t len, cap;
};

/* Bytes [p, p + len) of the input; for a JSON string, its contents and whether they hold no escape. */
struct span {
	const char *p;
	size_t len;
	int plain;
};

/* A cursor over a configuration. */
struct scan {
	const char *p, *end;
};

static int buf_reserve(struct buf *b, size_t more)
{
	if (more > SIZE_MAX / 2 - b->len)
		return -1;
	if (b->len + more <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more)
		cap *= 2;
	char *data = realloc(b->data, cap);
	if (!data)
		return -1;
	b->data = data;
	b->cap = cap;
	return 0;
}

static int buf_append(struct buf *b, const char *p, size_t n)
{
	if (buf_reserve(b, n))
		return -1;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

static long long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Writes all of [p, p + n) to fd (a socket: without SIGPIPE); 0 or -1. */
static int write_all(int fd, const char *p, size_t n, int is_socket)
{
	while (n > 0) {
		ssize_t w = is_socket ? send(fd, p, n, MSG_NOSIGNAL) : write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Appends what fd yields to b until EOF: 0 at EOF, 1 once more than `limit` bytes are in b, -1 on
 * an error, -2 when `deadline` (now_ms() time; 0 for none) passes first.
 */
static int read_all(int fd, struct buf *b, size_t limit, long long deadline)
{
	for (;;) {
		if (deadline) {
			long long left = deadline - now_ms();
			if (left <= 0)
				return -2;
			struct pollfd p = {.fd = fd, .events = POLLIN};
			int r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
			if (r < 0 && errno != EINTR)
				return -1;
			if (r <= 0)
				continue;
		}
		if (buf_reserve(b, 65536))
			return -1;
		ssize_t n = read(fd, b->data + b->len, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		b->len += (size_t)n;
		if (b->len > limit)
			return 1;
	}
}

/* Whether s is a non-empty run of printable ASCII shorter than `max`, so safe to print in JSON unescaped. */
static int printable(const struct span *s, size_t max)
{
	if (!s || !s->p || !s->plain || s->len == 0 || s->len >= max)
		return 0;
	for (size_t i = 0; i < s->len; i++)
		if ((unsigned char)s->p[i] < 0x20 || (unsigned char)s->p[i] > 0x7e)
			return 0;
	return 1;
}

/*
 * Prints a CNI error, then exits 1: for failures after the frame was sent, and for a TypeScript
 * plugin that cannot be started. `socket`, when given, goes into "details".
 */
static void relay_error(const struct span *version, int code, const char *msg, const struct span *socket)
{
	char out[512];
	int v = printable(version, 32);
	int n = snprintf(out, sizeof out, "{\"cniVersion\":\"%.*s\",\"code\":%d,\"msg\":\"%s\"%s%.*s%s}\n",
			 v ? (int)version->len : (int)strlen(DEFAULT_VERSION), v ? version->p : DEFAULT_VERSION, code, msg,
			 socket ? ",\"details\":\"socket " : "", socket ? (int)socket->len : 0, socket ? socket->p : "", socket ? "\"" : "");
	if (n > 0 && (size_t)n < sizeof out)
		write_all(1, out, (size_t)n, 0);
	exit(1);
}

/* The TypeScript plugin: bin/ciliate-cni of the checkout this binary (build/cni/ciliate-cni) is in. */
static int ts_plugin_path(char *out, size_t size)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	for (int up = 0; up < 3; up++) {
		char *slash = strrchr(exe, '/');
		if (!slash)
			return -1;
		*slash = '\0';
	}
	n = snprintf(out, size, "%s/bin/ciliate-cni", exe);
	return n > 0 && (size_t)n < size ? 0 : -1;
}

/* A memory file holding `in` and, when `rest`, what stdin still holds; positioned at its start. -1 on failure. */
static int stdin_copy(const struct buf *in, int rest)
{
	/* Not close-on-exec: when stdin was closed the file is fd 0 itself. */
	int fd = memfd_create("ciliate-cni-stdin", 0);
	if (fd < 0 || write_all(fd, in->data, in->len, 0))
		return -1;
	char chunk[65536];
	while (rest) {
		ssize_t n = read(0, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (write_all(fd, chunk, (size_t)n, 0))
			return -1;
	}
	return lseek(fd, 0, SEEK_SET) == 0 ? fd : -1;
}

/*
 * VERSION without the TypeScript plugin (a copy installed alone, as in /opt/cni/bin by the agent
 * image): the plugin's answer (cni/plugin.ts), with the cniVersion of the configuration on stdin
 * when this scanner reads one, then exit 0.
 */
static int scan_config(const char *text, size_t len, struct span *socket, struct span *version);

static void answer_version(void)
{
	struct buf in = {0};
	struct span socket, version = {NULL, 0, 0};
	if (read_all(0, &in, MAX_FRAME, 0) != 0 || scan_config(in.data, in.len, &socket, &version))
		version = (struct span){NULL, 0, 0};
	char out[256];
	int v = printable(&version, 32);
	int n = snprintf(out, sizeof out, "{\"cniVersion\":\"%.*s\",\"supportedVersions\":[" SUPPORTED_JSON "]}\n",
			 v ? (int)version.len : (int)strlen(DEFAULT_VERSION), v ? version.p : DEFAULT_VERSION);
	if (n > 0 && (size_t)n < sizeof out)
		write_all(1, out, (size_t)n, 0);
	exit(0);
}

/*
 * Execs the TypeScript plugin with this environment. With `in`, its stdin holds the bytes already
 * read (and, when `rest`, what stdin still holds), else it inherits stdin untouched.
 */
static void fallback(const struct buf *in, int rest)
{
	if (in) {
		int fd = stdin_copy(in, rest);
		if (fd < 0 || (fd != 0 && (dup2(fd, 0) != 0 || close(fd))))
			relay_error(NULL, 5, "cannot hand the configuration to the TypeScript plugin", NULL);
	}
	char path[PATH_MAX];
	if (ts_plugin_path(path, sizeof path) == 0) {
		char *argv[] = {path, NULL};
		execv(path, argv);
	}
	const char *command = getenv("CNI_COMMAND");
	if (command && strcmp(command, "VERSION") == 0)
		answer_version();
	relay_error(NULL, 5, "cannot run the TypeScript plugin bin/ciliate-cni", NULL);
}

static void skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

/* Reads the JSON string at the cursor into out; -1 when there is no well-formed one. */
static int read_string(struct scan *s, struct span *out)
{
	if (s->p >= s->end || *s->p != '"')
		return -1;
	const char *start = ++s->p;
	int plain = 1;
	for (; s->p < s->end; s->p++) {
		unsigned char c = (unsigned char)*s->p;
		if (c == '"') {
			*out = (struct span){start, (size_t)(s->p - start), plain};
			s->p++;
			return 0;
		}
		if (c < 0x20)
			return -1;
		if (c == '\\') {
			plain = 0;
			if (++s->p >= s->end)
				return -1;
		}
	}
	return -1;
}

/* Whether c may be part of a number or a literal (true, false, null). */
static int token_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '+' || c == '-';
}

/*
 * Skips one JSON value: brackets are matched pair by pair and strings read as strings, so the
 * cursor lands exactly after the value; what is inside is left to the agent's JSON.parse.
 */
static int skip_value(struct scan *s)
{
	char closers[MAX_DEPTH];
	size_t depth = 0;
	do {
		skip_ws(s);
		if (s->p >= s->end)
			return -1;
		char c = *s->p;
		struct span ignored;
		if (c == '"') {
			if (read_string(s, &ignored))
				return -1;
		} else if (c == '{' || c == '[') {
			if (depth == MAX_DEPTH)
				return -1;
			closers[depth++] = c == '{' ? '}' : ']';
			s->p++;
		} else if (c == '}' || c == ']') {
			if (depth == 0 || closers[depth - 1] != c)
				return -1;
			depth--;
			s->p++;
		} else if ((c == ',' || c == ':') && depth > 0) {
			s->p++;
		} else if (token_char(c)) {
			while (s->p < s->end && token_char(*s->p))
				s->p++;
		} else {
			return -1;
		}
	} while (depth > 0);
	return 0;
}

static int is_key(const struct span *key, const char *name)
{
	return key->len == strlen(name) && memcmp(key->p, name, key->len) == 0;
}

/*
 * Finds the top-level string members "socket" and "cniVersion" of a configuration as JSON.parse
 * would (the last of duplicates wins; a non-string value is none). -1 when the text is not one
 * JSON object or a top-level key holds an escape (it might spell "socket").
 */
static int scan_config(const char *text, size_t len, struct span *socket, struct span *version)
{
	struct scan s = {text, text + len};
	*socket = *version = (struct span){NULL, 0, 0};
	skip_ws(&s);
	if (s.p >= s.end || *s.p++ != '{')
		return -1;
	skip_ws(&s);
	if (s.p < s.end && *s.p == '}')
		s.p++;
	else
		for (;;) {
			struct span key;
			skip_ws(&s);
			if (read_string(&s, &key) || !key.plain)
				return -1;
			skip_ws(&s);
			if (s.p >= s.end || *s.p++ != ':')
				return -1;
			skip_ws(&s);
			struct span *wanted = is_key(&key, "socket") ? socket : is_key(&key, "cniVersion") ? version : NULL;
			if (wanted && s.p < s.end && *s.p == '"') {
				if (read_string(&s, wanted))
					return -1;
			} else {
				if (wanted)
					*wanted = (struct span){NULL, 0, 0};
				if (skip_value(&s))
					return -1;
			}
			skip_ws(&s);
			if (s.p < s.end && *s.p == ',') {
				s.p++;
				continue;
			}
			if (s.p < s.end && *s.p == '}') {
				s.p++;
				break;
			}
			return -1;
		}
	skip_ws(&s);
	return s.p == s.end ? 0 : -1;
}

/* Whether CNI_COMMAND is one the agent answers, and no forwarded value breaks the frame's lines. */
static int relayable_env(void)
{
	const char *command = getenv("CNI_COMMAND");
	int known = 0;
	for (size_t i = 0; command && i < COUNT(RELAYED_COMMANDS); i++)
		known |= strcmp(command, RELAYED_COMMANDS[i]) == 0;
	for (size_t i = 0; known && i < COUNT(FORWARDED); i++) {
		const char *v = getenv(FORWARDED[i]);
		if (v && strchr(v, '\n'))
			return 0;
	}
	return known;
}

/* The frame for the configuration `in`; -1 when out of memory. */
static int build_frame(struct buf *frame, const struct buf *in)
{
	int failed = buf_append(frame, MAGIC, strlen(MAGIC));
	for (size_t i = 0; i < COUNT(FORWARDED); i++) {
		const char *v = getenv(FORWARDED[i]);
		if (!v)
			continue;
		failed |= buf_append(frame, FORWARDED[i], strlen(FORWARDED[i]));
		failed |= buf_append(frame, "=", 1);
		failed |= buf_append(frame, v, strlen(v));
		failed |= buf_append(frame, "\n", 1);
	}
	failed |= buf_append(frame, "\n", 1);
	failed |= buf_append(frame, in->data, in->len);
	return failed ? -1 : 0;
}

/* A stream socket connected to `path`, or -1. */
static int connect_agent(const struct span *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	memcpy(addr.sun_path, path->p, path->len);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0)
		return fd;
	close(fd);
	return -1;
}

/* The exit code of an answer "<code>\n<stdout>"; *body is set to where stdout starts. -1 when malformed. */
static int answer_code(const struct buf *answer, size_t *body)
{
	int code = 0;
	size_t i = 0;
	for (; i < answer->len && i < 3 && answer->data[i] >= '0' && answer->data[i] <= '9'; i++)
		code = code * 10 + (answer->data[i] - '0');
	if (i == 0 || i >= answer->len || answer->data[i] != '\n' || code > 255)
		return -1;
	*body = i + 1;
	return code;
}

int main(void)
{
	if (!relayable_env())
		fallback(NULL, 0);
	struct buf in = {0}, frame = {0}, answer = {0};
	int r = read_all(0, &in, MAX_FRAME, 0);
	if (r != 0)
		fallback(&in, 1);
	struct span socket, version;
	if (scan_config(in.data, in.len, &socket, &version) || !printable(&socket, SUN_PATH_SIZE))
		fallback(&in, 0);
	if (build_frame(&frame, &in) || frame.len > MAX_FRAME)
		fallback(&in, 0);
	int fd = connect_agent(&socket);
	if (fd < 0)
		fallback(&in, 0);

	/* From here on the agent may act on the frame. A failed send still reads: the agent may have answered early. */
	write_all(fd, frame.data, frame.len, 1);
	shutdown(fd, SHUT_WR);
	r = read_all(fd, &answer, MAX_ANSWER, now_ms() + ANSWER_TIMEOUT_MS);
	if (r == -2)
		relay_error(&version, 11, "the agent did not answer in time", &socket);
	if (r != 0)
		relay_error(&version, 50, "cannot reach the node agent", &socket);
	size_t body = 0;
	int code = answer_code(&answer, &body);
	if (code < 0)
		relay_error(&version, 5, "the agent sent an unreadable answer", &socket);
	write_all(1, answer.data + body, answer.len - body, 0);
	return code;
}
