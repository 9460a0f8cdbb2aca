/* syscall(2): each number that carries a pid goes to the module of the
 * kernel object it names, which translates its arguments (and results) and
 * makes the call; every other number passes as it is.  Six argument
 * registers are always forwarded: the kernel ignores those a call does not
 * use. */
#include <stdarg.h>
#include <unistd.h>

#include "dmtcp/plugin.h"
#include "pid_internal.h"

#define PID_SYSCALL_NEXT(X) \
  X(syscall)
DMTCP_NEXT_TABLE(PID_SYSCALL_NEXT)

PID_EXPORT long syscall(long n, ...) {
  va_list ap;
  long a[6];
  va_start(ap, n);
  for (int i = 0; i < 6; i++) a[i] = va_arg(ap, long);
  va_end(ap);
  long r;
  if (pid_process_syscall(n, a, &r) || pid_wait_syscall(n, a, &r) || pid_signal_syscall(n, a, &r) ||
      pid_proc_syscall(n, a, &r) || pid_socket_syscall(n, a, &r))
    return r;
  pid_resource_syscall_args(n, a);
  return DMTCP_NEXT(syscall)(n, a[0], a[1], a[2], a[3], a[4], a[5]);
}
