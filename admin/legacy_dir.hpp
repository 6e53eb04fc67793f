// The old scripts' directory (/home/ubuntu/claude-executor), made to keep the old SSM command
// lines working, and made so that no one but root can swap what they run.
//
// SSM runs `/home/ubuntu/claude-executor/dispatch-unified.sh ...` as root. The directory sits in
// the user's home, so whoever owns the home can rename it away and put a directory of their own,
// with a dispatch-unified.sh of their own, in its place: a root-owned directory is not enough.
// An immutable one is (chattr +i, FS_IMMUTABLE_FL): it can be neither renamed nor removed, and
// nothing in it can be added, removed or replaced, whatever its parent allows; only root
// (CAP_LINUX_IMMUTABLE) can clear the flag. Where the filesystem has no immutable flag the old
// command lines are not kept: the six names are removed (the old scripts stay as *.orig) and
// the error names the root-owned command line to use instead.
//
// Every step is pinned to fds; nothing is done by a path the user can change:
//   walk to the parent: open("/"), then openat(O_PATH|O_DIRECTORY|O_NOFOLLOW) per component
//                       (a symlink anywhere in DIR is refused)
//   fstatat(parent, name, AT_SYMLINK_NOFOLLOW)   absent: mkdirat(parent, name, 0755);
//                                                 a symlink or not a directory: refused
//   dir = openat(parent, name, O_RDONLY|O_DIRECTORY|O_NOFOLLOW)
//   ioctl(dir, FS_IOC_GETFLAGS); clear FS_IMMUTABLE_FL while changing (FS_IOC_SETFLAGS)
//   fchown(dir, 0, 0); fchmod(dir, 0755)
//   for each name: fstatat/readlinkat(dir, name): already a link to TARGET: kept; else
//                  renameat(dir, name, dir, name.orig) (name.orig present: refused), then
//                  symlinkat(TARGET, dir, name)
//   ioctl(dir, FS_IOC_SETFLAGS, flags | FS_IMMUTABLE_FL), and read back: set, or the names
//   are unlinked again and it is an error
// --uninstall: the flag cleared, each link to TARGET removed and its .orig put back, and the
// directory given back to the owner of the directory it is in.
//
// Tested end to end only (tests/integration/install_test.cpp): every step needs root, real
// users and a filesystem that keeps inode flags, which is the integration suite's set-up.
#pragma once

#include <string>
#include <vector>

#include "sys/result.hpp"

namespace fleet {

// The old scripts' names, each a name dispatch answers to (cli.hpp).
inline const std::vector<std::string>& legacy_script_names() {
    static const std::vector<std::string> names = {"dispatch.sh",       "dispatch-aider.sh",
                                                   "dispatch-codex.sh", "dispatch-gemini.sh",
                                                   "dispatch-grok.sh",  "dispatch-unified.sh"};
    return names;
}

enum class DryRun { no, yes };

struct LegacyDirRequest {
    std::string dir;    // absolute, plain: the old scripts' directory
    std::string target; // absolute: what the names link to (/usr/bin/dispatch)
    DryRun dry_run = DryRun::no;
};

// What was done (or, with DryRun::yes, would be): one line per change, for the caller to print.
using Changes = std::vector<std::string>;

// Puts the links in place and makes the directory immutable. An Error (invalid_input: the
// request or what is on disk is refused; system: a call failed) says what is wrong and, when
// the filesystem cannot make the directory immutable, which command line to use instead;
// `changes` holds what was done before it.
Status install_legacy_dir(const LegacyDirRequest& request, Changes& changes);

// Undoes install_legacy_dir.
Status uninstall_legacy_dir(const LegacyDirRequest& request, Changes& changes);

} // namespace fleet
