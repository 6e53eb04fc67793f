#include "support/accounts.hpp"

#include <grp.h>
#include <pwd.h>
#include <stdexcept>
#include <unistd.h>

#include "support/process.hpp"

namespace fleet::test {

namespace {

std::string join(const std::vector<std::string>& parts) {
    std::string result;
    for (const std::string& part : parts) {
        result += (result.empty() ? "" : ",") + part;
    }
    return result;
}

} // namespace

Accounts::~Accounts() {
    for (auto it = m_users.rbegin(); it != m_users.rend(); ++it) {
        // An immutable directory (the legacy directory a test left behind) would keep the home.
        run({"chattr", "-R", "-f", "-i", "/home/" + *it});
        run({"userdel", "-r", "-f", *it});
    }
    for (auto it = m_groups.rbegin(); it != m_groups.rend(); ++it) {
        run({"groupdel", *it});
    }
}

std::string Accounts::unique_name(const std::string& suffix) {
    return "flt" + std::to_string(getpid()) + suffix;
}

gid_t Accounts::add_group(const std::string& name) {
    run_ok({"groupadd", name});
    m_groups.push_back(name);
    return gid_of_group(name);
}

uid_t Accounts::add_user(const std::string& name, const std::vector<std::string>& groups) {
    // No subordinate ids: a test user needs none, and a range added to /etc/subuid (where that
    // file exists) leaves useradd's backup /etc/subuid- behind once the user is gone.
    std::vector<std::string> argv = {
        "useradd", "--create-home",   "--user-group", "--shell",        "/bin/sh",
        "-K",      "SUB_UID_COUNT=0", "-K",           "SUB_GID_COUNT=0"};
    if (!groups.empty()) {
        argv.insert(argv.end(), {"--groups", join(groups)});
    }
    argv.push_back(name);
    run_ok(argv);
    m_users.push_back(name);
    return uid_of(name);
}

void Accounts::add_to_groups(const std::string& user, const std::vector<std::string>& groups) {
    run_ok({"usermod", "--append", "--groups", join(groups), user});
}

uid_t uid_of(const std::string& user) {
    const passwd* entry = getpwnam(user.c_str());
    if (entry == nullptr) {
        throw std::runtime_error("no such user " + user);
    }
    return entry->pw_uid;
}

gid_t gid_of_group(const std::string& group) {
    const struct group* entry = getgrnam(group.c_str());
    if (entry == nullptr) {
        throw std::runtime_error("no such group " + group);
    }
    return entry->gr_gid;
}

} // namespace fleet::test
