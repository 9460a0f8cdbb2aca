/* Symbol visibility for the runtime and plugins, which are built with
 * -fvisibility=hidden: DMTCP_EXPORT marks what the dynamic linker must see
 * (wrappers of libc functions, dmtcp_* entry points), DMTCP_HIDDEN what is
 * shared between a library's own files only. */
#ifndef DMTCP_VISIBILITY_H
#define DMTCP_VISIBILITY_H

#define DMTCP_EXPORT __attribute__((visibility("default")))
#define DMTCP_HIDDEN __attribute__((visibility("hidden")))

#endif
