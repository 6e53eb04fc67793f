// `fleet-admin install-sudoers --user USER [--helper PATH]`: the one sudoers rule that lets USER
// run fleet-helper, and nothing else, as root (docs/fleet-helper.md, "sudoers"):
//
//   USER ALL=(root) NOPASSWD: /exact/path/of/fleet-helper
//
// Sequence, all as root; any failure stops with the old configuration in place:
//   1. USER: a valid name ([a-z_][a-z0-9_.-]*, at most 32), an existing account, not uid 0.
//   2. The helper and every directory above it: root-owned, not writable by group or others
//      (trusted_file.hpp); otherwise whoever can replace the file owns the rule.
//   3. /etc/sudoers.d: a root-owned directory not writable by group or others.
//   4. Unchanged when the rule file already holds exactly this rule, root:root 0440.
//   5. Stage the rule as ".fleet-helper-USER.<random>.tmp" inside /etc/sudoers.d (sudo ignores
//      names with a dot): O_CREAT|O_EXCL|O_NOFOLLOW, 0440 root:root, fsync, close.
//   6. visudo -c -s -q -O -P -f STAGED: syntax, owner and mode of the rule alone.
//   7. rename to the final, dot-free name (same directory: atomic); fsync the directory.
//   8. visudo -c -q: the whole configuration; on failure restore the previous file (or remove
//      the new one) and report.
// The final name is "fleet-helper-" + USER with '.' written as %2e: sudo skips names with a dot,
// and '%' cannot occur in a user name, so distinct users never share a file.
#pragma once

#include <string>
#include <string_view>

#include "sys/result.hpp"

namespace fleet {

struct SudoersPaths {
    std::string dir = "/etc/sudoers.d";
    std::string visudo = "/usr/sbin/visudo";
};

struct SudoersInstall {
    std::string file; // the rule file's path
    std::string rule; // the rule line
    bool changed = false;
};

bool is_valid_sudo_user_name(std::string_view user);

std::string sudoers_file_name(std::string_view user);

Result<SudoersInstall> install_sudoers(const std::string& user, const std::string& helper_path,
                                       const SudoersPaths& paths = {});

} // namespace fleet
