/*
 * The pod sandbox's process: holds the pod's namespaces open, does nothing else. It sleeps until
 * SIGTERM or SIGINT (then exits 0) and, as the pod's PID 1 when the PID namespace is shared, reaps
 * every child that ends. Signals are blocked outside sigsuspend so none is missed between checks.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stopping;

static void on_stop(int sig) {
  (void)sig;
  stopping = 1;
}

static void on_child(int sig) {
  (void)sig;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "-v") == 0) {
    puts("ciliate pause");
    return 0;
  }
  sigset_t handled, waiting;
  sigemptyset(&handled);
  sigaddset(&handled, SIGTERM);
  sigaddset(&handled, SIGINT);
  sigaddset(&handled, SIGCHLD);
  if (sigprocmask(SIG_BLOCK, &handled, &waiting) != 0) {
    perror("pause: sigprocmask");
    return 1;
  }
  sigdelset(&waiting, SIGTERM);
  sigdelset(&waiting, SIGINT);
  sigdelset(&waiting, SIGCHLD);

  struct sigaction stop = {0}, child = {0};
  stop.sa_handler = on_stop;
  child.sa_handler = on_child;
  child.sa_flags = SA_NOCLDSTOP;
  if (sigaction(SIGTERM, &stop, NULL) != 0 || sigaction(SIGINT, &stop, NULL) != 0 ||
      sigaction(SIGCHLD, &child, NULL) != 0) {
    perror("pause: sigaction");
    return 1;
  }
  while (!stopping) {
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    sigsuspend(&waiting);
  }
  return 0;
}
