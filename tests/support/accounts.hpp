// Throwaway users and groups for tests that run as root: created with the real useradd and
// groupadd, removed (with their homes) when the object goes away. Names carry the test's pid,
// so suites running in parallel never collide.
#pragma once

#include <string>
#include <sys/types.h>
#include <vector>

namespace fleet::test {

class Accounts {
public:
    Accounts() = default;
    Accounts(const Accounts&) = delete;
    Accounts& operator=(const Accounts&) = delete;
    ~Accounts();

    // "flt<pid><suffix>", short enough for every tool's name limit.
    static std::string unique_name(const std::string& suffix);

    // Creates a group; returns its gid.
    gid_t add_group(const std::string& name);

    // Creates a user with a home directory under /home and a private primary group of the
    // same name, member of `groups`; returns its uid.
    uid_t add_user(const std::string& name, const std::vector<std::string>& groups = {});

    // Adds an existing user to more groups.
    void add_to_groups(const std::string& user, const std::vector<std::string>& groups);

private:
    std::vector<std::string> m_users;
    std::vector<std::string> m_groups;
};

uid_t uid_of(const std::string& user);
gid_t gid_of_group(const std::string& group);

} // namespace fleet::test
