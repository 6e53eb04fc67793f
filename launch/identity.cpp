#include "launch/identity.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

namespace fleet {

namespace {

// Largest id we accept: 2^31 - 2. 2^31 - 1 and above are refused, so no spelling of
// (uid_t)-1 and no id that a signed 32-bit consumer would see as negative gets through.
constexpr unsigned long k_max_id = 2147483646UL;

// NSS buffers start at the size sysconf suggests and double on ERANGE up to this cap.
constexpr size_t k_max_nss_buffer = 1U << 20U;

size_t initial_buffer_size(int sysconf_name) {
    const long suggested = sysconf(sysconf_name);
    return suggested > 0 ? static_cast<size_t>(suggested) : 16384;
}

// Fields copied out of a struct passwd; the NSS buffer does not outlive the lookup.
struct PasswdEntry {
    uid_t uid = 0;
    gid_t gid = 0;
    std::string name, home, shell;
};

struct GroupEntry {
    gid_t gid = 0;
    std::string name;
};

// Runs one reentrant NSS lookup with a growing buffer. `lookup(buffer, size, found)` returns
// the lookup's error number and sets `found`. Returns true when an entry was found, false when
// there is none; a system Error when the lookup failed.
template <typename Lookup>
Result<bool> nss_lookup(int sysconf_name, const std::string& what, Lookup lookup) {
    std::vector<char> buffer(initial_buffer_size(sysconf_name));
    for (;;) {
        bool found = false;
        const int err = lookup(buffer.data(), buffer.size(), found);
        if (err == ERANGE && buffer.size() < k_max_nss_buffer) {
            buffer.resize(buffer.size() * 2);
            continue;
        }
        // getpw*_r report "no such entry" as 0 with a null result; some NSS modules use
        // ENOENT, ESRCH, EBADF or EPERM for the same (see getpwnam_r(3), NOTES).
        if (err == 0 || err == ENOENT || err == ESRCH || err == EBADF || err == EPERM) {
            return found;
        }
        return system_error(what, err);
    }
}

Result<bool> lookup_passwd(const std::string& name_or_empty, uid_t uid, PasswdEntry& out) {
    const bool by_name = !name_or_empty.empty();
    const std::string what =
        by_name ? "getpwnam_r(" + name_or_empty + ")" : "getpwuid_r(" + std::to_string(uid) + ")";
    return nss_lookup(_SC_GETPW_R_SIZE_MAX, what, [&](char* buf, size_t size, bool& found) {
        passwd entry{};
        passwd* result = nullptr;
        const int err = by_name ? getpwnam_r(name_or_empty.c_str(), &entry, buf, size, &result)
                                : getpwuid_r(uid, &entry, buf, size, &result);
        found = err == 0 && result != nullptr;
        if (found) {
            out = PasswdEntry{entry.pw_uid, entry.pw_gid, entry.pw_name, entry.pw_dir,
                              entry.pw_shell};
        }
        return err;
    });
}

Result<bool> lookup_group(const std::string& name_or_empty, gid_t gid, GroupEntry& out) {
    const bool by_name = !name_or_empty.empty();
    const std::string what =
        by_name ? "getgrnam_r(" + name_or_empty + ")" : "getgrgid_r(" + std::to_string(gid) + ")";
    return nss_lookup(_SC_GETGR_R_SIZE_MAX, what, [&](char* buf, size_t size, bool& found) {
        group entry{};
        group* result = nullptr;
        const int err = by_name ? getgrnam_r(name_or_empty.c_str(), &entry, buf, size, &result)
                                : getgrgid_r(gid, &entry, buf, size, &result);
        found = err == 0 && result != nullptr;
        if (found) {
            out = GroupEntry{entry.gr_gid, entry.gr_name};
        }
        return err;
    });
}

// A user part: an id with a passwd entry, or an existing name. Never uid 0.
Result<PasswdEntry> resolve_user(const std::string& part) {
    PasswdEntry entry;
    Result<bool> found = false;
    if (is_all_digits(part)) {
        const Result<unsigned> id = parse_id_number(part);
        if (!id) {
            return input_error("user " + id.error().message);
        }
        found = lookup_passwd("", static_cast<uid_t>(*id), entry);
    } else {
        found = lookup_passwd(part, 0, entry);
    }
    if (!found) {
        return found.error();
    }
    if (!*found) {
        return input_error("no such user '" + part + "'");
    }
    if (entry.uid == 0) {
        return input_error("user '" + part + "' is root (uid 0); root is never a target");
    }
    if (entry.uid > k_max_id) {
        return input_error("user '" + part + "' has uid " + std::to_string(entry.uid) +
                           ", outside 1.." + std::to_string(k_max_id));
    }
    return entry;
}

// A group part: an id with a group entry, or an existing name. gid 0 is checked by callers.
Result<GroupEntry> resolve_group(const std::string& part) {
    GroupEntry entry;
    Result<bool> found = false;
    if (is_all_digits(part)) {
        const Result<unsigned> id = parse_id_number(part);
        if (!id) {
            return input_error("group " + id.error().message);
        }
        found = lookup_group("", static_cast<gid_t>(*id), entry);
    } else {
        found = lookup_group(part, 0, entry);
    }
    if (!found) {
        return found.error();
    }
    if (!*found) {
        return input_error("no such group '" + part + "'");
    }
    return entry;
}

Result<std::vector<gid_t>> user_group_list(const std::string& name, gid_t primary) {
    int count = 64;
    std::vector<gid_t> groups(static_cast<size_t>(count));
    for (int attempt = 0; attempt < 8; ++attempt) {
        int capacity = count;
        if (getgrouplist(name.c_str(), primary, groups.data(), &capacity) >= 0) {
            groups.resize(static_cast<size_t>(capacity));
            return groups;
        }
        // -1: the list did not fit; `capacity` now holds the size it needs.
        count = std::max(capacity, count * 2);
        groups.resize(static_cast<size_t>(count));
    }
    return Error{ErrorKind::system, "getgrouplist(" + name + "): group list keeps growing"};
}

void sort_unique(std::vector<gid_t>& groups) {
    std::sort(groups.begin(), groups.end());
    groups.erase(std::unique(groups.begin(), groups.end()), groups.end());
}

} // namespace

bool is_all_digits(std::string_view text) {
    return !text.empty() &&
           std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

Result<unsigned> parse_id_number(std::string_view text) {
    const std::string shown(text);
    if (!is_all_digits(text)) {
        return input_error("id '" + shown + "' is not a whole decimal number");
    }
    if (text.size() > 1 && text[0] == '0') {
        return input_error("id '" + shown + "' has a leading zero");
    }
    if (text.size() > 10) {
        return input_error("id '" + shown + "' is out of range 1.." + std::to_string(k_max_id));
    }
    unsigned long value = 0;
    for (const char c : text) {
        value = value * 10 + static_cast<unsigned long>(c - '0');
    }
    if (value < 1 || value > k_max_id) {
        return input_error("id '" + shown + "' is out of range 1.." + std::to_string(k_max_id));
    }
    return static_cast<unsigned>(value);
}

Result<UserSpec> parse_user_spec(std::string_view spec) {
    const std::string shown(spec);
    const size_t colon = spec.find(':');
    UserSpec parsed;
    parsed.user = std::string(spec.substr(0, colon));
    if (colon != std::string_view::npos) {
        parsed.group = std::string(spec.substr(colon + 1));
        if (parsed.group.empty()) {
            return input_error("user spec '" + shown + "' has an empty group after ':'");
        }
        if (parsed.group.find(':') != std::string::npos) {
            return input_error("user spec '" + shown + "' has more than one ':'");
        }
    }
    if (parsed.user.empty()) {
        return input_error("user spec '" + shown + "' has an empty user");
    }
    for (const std::string* part : {&parsed.user, &parsed.group}) {
        if (!part->empty() && (part->front() == '-' || part->front() == '+')) {
            return input_error("user spec '" + shown + "': '" + *part +
                               "' starts with a sign; ids are plain decimal numbers");
        }
    }
    return parsed;
}

Result<Identity> resolve_identity(std::string_view spec,
                                  const std::vector<std::string>& drop_groups) {
    const Result<UserSpec> parsed = parse_user_spec(spec);
    if (!parsed) {
        return parsed.error();
    }
    const Result<PasswdEntry> user = resolve_user(parsed->user);
    if (!user) {
        return user.error();
    }

    Identity identity;
    identity.uid = user->uid;
    identity.name = user->name;
    identity.home = user->home;
    identity.shell = user->shell;
    if (parsed->group.empty()) {
        identity.gid = user->gid;
        Result<std::vector<gid_t>> groups = user_group_list(user->name, user->gid);
        if (!groups) {
            return groups.error();
        }
        identity.groups = std::move(*groups);
    } else {
        const Result<GroupEntry> group = resolve_group(parsed->group);
        if (!group) {
            return group.error();
        }
        identity.gid = group->gid;
        identity.groups = {group->gid};
    }
    if (identity.gid == 0) {
        return input_error("primary group of '" + std::string(spec) +
                           "' is gid 0 (root); root's group is never a target");
    }

    for (const std::string& name : drop_groups) {
        const Result<GroupEntry> group = resolve_group(name);
        if (!group) {
            return Error{group.error().kind, "--drop-group: " + group.error().message};
        }
        if (group->gid == identity.gid) {
            return input_error("--drop-group: '" + name + "' is the primary group of '" +
                               std::string(spec) + "'; it cannot be dropped");
        }
        std::erase(identity.groups, group->gid);
    }
    if (std::find(identity.groups.begin(), identity.groups.end(), 0) != identity.groups.end()) {
        return input_error("user '" + identity.name +
                           "' is a member of group 0 (root); refusing to keep root's group");
    }
    sort_unique(identity.groups);
    return identity;
}

Result<Identity> current_identity() {
    Identity identity;
    identity.uid = getuid();
    identity.gid = getgid();
    PasswdEntry entry;
    const Result<bool> found = lookup_passwd("", identity.uid, entry);
    if (!found) {
        return found.error();
    }
    if (!*found) {
        return input_error("the calling uid " + std::to_string(identity.uid) +
                           " has no passwd entry");
    }
    identity.name = entry.name;
    identity.home = entry.home;
    identity.shell = entry.shell;

    const int count = getgroups(0, nullptr);
    if (count < 0) {
        return system_error("getgroups", errno);
    }
    identity.groups.resize(static_cast<size_t>(count));
    if (getgroups(count, identity.groups.data()) != count) {
        return system_error("getgroups", errno);
    }
    sort_unique(identity.groups);
    return identity;
}

} // namespace fleet
