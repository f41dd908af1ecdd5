// gapm-run: starts N local processes of one program as the nodes of a gapm cluster.
//
//   gapm-run -n N [--port P] [--addr A] -- PROGRAM [ARGS...]
//
// Each process gets RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR and
// MASTER_PORT (the torchrun convention), and all of them one GAPM_JOB_TOKEN: the caller's,
// or a fresh random one, so that the nodes prove their connections without the rendezvous
// handing a secret out (README, "Security model"). Every output line is prefixed with its rank. When
// one process fails, the others are stopped (SIGTERM, then SIGKILL after 5 s), and gapm-run
// exits with the first failure's code (128 + signal for a process killed by a signal).
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "free_port.hpp"

namespace {

struct child {
  int rank = 0;
  pid_t pid = -1;
  int output = -1;        // read end of the child's stdout+stderr pipe
  std::string partial;    // an unfinished line
  bool running = true;
};

volatile sig_atomic_t interrupted = 0;

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "gapm-run: %s\n"
               "usage: gapm-run -n N [--port P] [--addr A] -- PROGRAM [ARGS...]\n"
               "  -n N       number of processes (nodes), N >= 1\n"
               "  --port P   rendezvous port (default: a free port)\n"
               "  --addr A   rendezvous address (default: 127.0.0.1)\n",
               why);
  std::exit(2);
}

int rendezvous_port() {
  const int port = gapm::tools::free_port();
  if (port < 0) {
    std::fprintf(stderr, "gapm-run: cannot find a free port in [20000, 32000)\n");
    std::exit(2);
  }
  return port;
}

void print_lines(child& c, const char* data, std::size_t size, bool flush_partial) {
  c.partial.append(data, size);
  std::size_t start = 0;
  for (std::size_t nl; (nl = c.partial.find('\n', start)) != std::string::npos; start = nl + 1)
    std::printf("[%d] %.*s\n", c.rank, static_cast<int>(nl - start), c.partial.data() + start);
  c.partial.erase(0, start);
  if (flush_partial && !c.partial.empty()) {
    std::printf("[%d] %s\n", c.rank, c.partial.c_str());
    c.partial.clear();
  }
  std::fflush(stdout);
}

// Gives the job a random token unless the caller set one (which all processes then share).
void ensure_job_token() {
  const char* given = std::getenv("GAPM_JOB_TOKEN");
  if (given != nullptr && *given != '\0') return;
  unsigned char bytes[24];
  for (std::size_t filled = 0; filled < sizeof bytes;) {
    const ssize_t got = ::getrandom(bytes + filled, sizeof bytes - filled, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      std::perror("gapm-run: getrandom");
      std::exit(2);
    }
    filled += static_cast<std::size_t>(got);
  }
  std::string token;
  for (const unsigned char b : bytes) token += "0123456789abcdef"[b >> 4], token += "0123456789abcdef"[b & 15];
  ::setenv("GAPM_JOB_TOKEN", token.c_str(), 1);
}

child start(int rank, int world, const std::string& addr, int port, char** argv) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    std::perror("gapm-run: pipe");
    std::exit(2);
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    std::perror("gapm-run: fork");
    std::exit(2);
  }
  if (pid == 0) {
    ::setpgid(0, 0);                      // its own process group: stopping it stops its children too
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // die with gapm-run
    if (::getppid() != parent) ::_exit(1);
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    ::dup2(pipe_fds[1], STDERR_FILENO);
    ::setenv("RANK", std::to_string(rank).c_str(), 1);
    ::setenv("WORLD_SIZE", std::to_string(world).c_str(), 1);
    ::setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
    ::setenv("LOCAL_WORLD_SIZE", std::to_string(world).c_str(), 1);
    ::setenv("MASTER_ADDR", addr.c_str(), 1);
    ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
    ::execvp(argv[0], argv);
    std::fprintf(stderr, "gapm-run: cannot start '%s': %s\n", argv[0], std::strerror(errno));
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also here, so that the group exists before any kill (no race)
  ::close(pipe_fds[1]);
  return child{rank, pid, pipe_fds[0], {}, true};
}

int exit_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

struct arguments {
  int n = 0;
  int port = 0;
  std::string addr = "127.0.0.1";
  char** program = nullptr;
};

arguments parse(int argc, char** argv) {
  arguments args;
  int program = -1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") {
      program = i + 1;
      break;
    }
    if (i + 1 >= argc) usage(("option " + arg + " needs a value").c_str());
    if (arg == "-n") args.n = std::atoi(argv[++i]);
    else if (arg == "--port") args.port = std::atoi(argv[++i]);
    else if (arg == "--addr") args.addr = argv[++i];
    else usage(("unknown option " + arg).c_str());
  }
  if (args.n < 1) usage("-n must be at least 1");
  if (program < 0 || program >= argc) usage("no program after --");
  if (args.port == 0) args.port = rendezvous_port();
  args.program = argv + program;
  return args;
}

// Watches the children: prints their output line by line, and on the first failure (or a
// signal to gapm-run) stops the others, SIGKILL after 5 s. Returns the first failure's code.
class supervisor {
 public:
  explicit supervisor(std::vector<child>& children)
      : children_{children}, open_outputs_{children.size()}, running_{children.size()} {}

  int run() {
    while (open_outputs_ > 0 || running_ > 0) {
      forward_output();
      reap();
      if (interrupted && !stopping_) {
        first_failure_ = 130;
        stop_others();
      }
      if (stopping_ && std::chrono::steady_clock::now() - stop_since_ > std::chrono::seconds(5))
        for (auto& c : children_) ::kill(-c.pid, SIGKILL);
      // Every process has exited; a grandchild still holding a pipe open does not keep us here.
      if (running_ == 0 && open_outputs_ > 0) {
        if (!stopping_) {
          stopping_ = true;
          stop_since_ = std::chrono::steady_clock::now();
        }
        if (std::chrono::steady_clock::now() - stop_since_ > std::chrono::seconds(1)) break;
      }
    }
    return first_failure_;
  }

 private:
  void stop_others() {
    if (stopping_) return;
    stopping_ = true;
    stop_since_ = std::chrono::steady_clock::now();
    for (auto& c : children_) ::kill(-c.pid, SIGTERM);  // whole groups: a shell's children too
  }

  void forward_output() {
    std::vector<pollfd> fds;
    std::vector<child*> owners;
    for (auto& c : children_)
      if (c.output >= 0) {
        fds.push_back({c.output, POLLIN, 0});
        owners.push_back(&c);
      }
    ::poll(fds.data(), fds.size(), 100);
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      const ssize_t got = ::read(fds[i].fd, buffer_, sizeof buffer_);
      if (got > 0) {
        print_lines(*owners[i], buffer_, static_cast<std::size_t>(got), false);
      } else if (got == 0 || errno != EINTR) {
        print_lines(*owners[i], nullptr, 0, true);
        ::close(owners[i]->output);
        owners[i]->output = -1;
        --open_outputs_;
      }
    }
  }

  void reap() {
    for (auto& c : children_) {
      if (!c.running) continue;
      int status = 0;
      if (::waitpid(c.pid, &status, WNOHANG) != c.pid) continue;
      c.running = false;
      --running_;
      const int code = exit_code(status);
      if (code != 0 && first_failure_ == 0 && !stopping_) {
        first_failure_ = code;
        std::fprintf(stderr, "gapm-run: rank %d exited with code %d; stopping the others\n", c.rank, code);
        stop_others();
      }
    }
  }

  std::vector<child>& children_;
  std::size_t open_outputs_, running_;
  int first_failure_ = 0;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point stop_since_ = std::chrono::steady_clock::now();
  char buffer_[65536];
};

}  // namespace

int main(int argc, char** argv) {
  const arguments args = parse(argc, argv);
  struct sigaction on_signal{};
  on_signal.sa_handler = [](int) { interrupted = 1; };
  ::sigaction(SIGINT, &on_signal, nullptr);
  ::sigaction(SIGTERM, &on_signal, nullptr);
  ensure_job_token();
  std::vector<child> children;
  for (int r = 0; r < args.n; ++r) children.push_back(start(r, args.n, args.addr, args.port, args.program));
  return supervisor(children).run();
}
