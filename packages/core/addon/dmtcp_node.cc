// What the CLI cannot do from JavaScript: replace the Node process with the
// target program (same pid, nothing of Node left behind), so that the exit
// status the user's shell sees is the program's own.
#include <napi.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

const char *ErrnoName(int err) {
  switch (err) {
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ENOEXEC: return "ENOEXEC";
    case E2BIG: return "E2BIG";
    case ENOTDIR: return "ENOTDIR";
    case ELOOP: return "ELOOP";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ENOMEM: return "ENOMEM";
    case ETXTBSY: return "ETXTBSY";
    case EISDIR: return "EISDIR";
    case EFAULT: return "EFAULT";
    case EINVAL: return "EINVAL";
    case EIO: return "EIO";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ELIBBAD: return "ELIBBAD";
    default: return "EUNKNOWN";
  }
}

bool ReadStringArray(const Napi::Env &env, const Napi::Value &value, const char *what,
                     std::vector<std::string> *out) {
  if (!value.IsArray()) {
    Napi::TypeError::New(env, std::string(what) + " must be an array of strings").ThrowAsJavaScriptException();
    return false;
  }
  Napi::Array arr = value.As<Napi::Array>();
  uint32_t n = arr.Length();
  out->reserve(n);
  for (uint32_t i = 0; i < n; i++) {
    Napi::Value item = arr.Get(i);
    if (!item.IsString()) {
      Napi::TypeError::New(env, std::string(what) + " must be an array of strings").ThrowAsJavaScriptException();
      return false;
    }
    out->push_back(item.As<Napi::String>().Utf8Value());
  }
  return true;
}

std::vector<char *> ToCArray(std::vector<std::string> &items) {
  std::vector<char *> ptrs;
  ptrs.reserve(items.size() + 1);
  for (auto &s : items) ptrs.push_back(s.data());
  ptrs.push_back(nullptr);
  return ptrs;
}

struct StdioFlags {
  int fd[3];
  int fl[3];
};

// Node marks its stdio close-on-exec and may have switched pipes/ttys to
// non-blocking mode; the new program must inherit ordinary blocking stdio.
StdioFlags PrepareStdio() {
  StdioFlags saved;
  for (int fd = 0; fd <= 2; fd++) {
    saved.fd[fd] = fcntl(fd, F_GETFD);
    saved.fl[fd] = fcntl(fd, F_GETFL);
    if (saved.fd[fd] >= 0 && (saved.fd[fd] & FD_CLOEXEC)) fcntl(fd, F_SETFD, saved.fd[fd] & ~FD_CLOEXEC);
    if (saved.fl[fd] >= 0 && (saved.fl[fd] & O_NONBLOCK)) fcntl(fd, F_SETFL, saved.fl[fd] & ~O_NONBLOCK);
  }
  return saved;
}

// A failed execve leaves Node running; libuv expects the modes it set.
void RestoreStdio(const StdioFlags &saved) {
  for (int fd = 0; fd <= 2; fd++) {
    if (saved.fd[fd] >= 0) fcntl(fd, F_SETFD, saved.fd[fd]);
    if (saved.fl[fd] >= 0) fcntl(fd, F_SETFL, saved.fl[fd]);
  }
}

Napi::Value Execve(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString()) {
    Napi::TypeError::New(env, "execve(path: string, argv: string[], env: string[])").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  std::vector<std::string> argv, envp;
  if (!ReadStringArray(env, info[1], "argv", &argv)) return env.Undefined();
  if (!ReadStringArray(env, info[2], "env", &envp)) return env.Undefined();
  std::vector<char *> cargv = ToCArray(argv);
  std::vector<char *> cenvp = ToCArray(envp);

  StdioFlags saved = PrepareStdio();
  execve(path.c_str(), cargv.data(), cenvp.data());
  int err = errno;
  RestoreStdio(saved);

  Napi::Error e = Napi::Error::New(env, std::string("execve ") + path + ": " + strerror(err));
  e.Set("code", Napi::String::New(env, ErrnoName(err)));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("path", Napi::String::New(env, path));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("execve", Napi::Function::New(env, Execve, "execve"));
  return exports;
}

}  // namespace

NODE_API_MODULE(dmtcp_node, Init)
