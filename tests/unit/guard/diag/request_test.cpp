#include <gtest/gtest.h>

#include "guard/diag/request.hpp"
#include "guard/diag/tokenizer.hpp"

namespace fleet {
namespace {

Result<DiagRequest> parse(std::string_view text) {
    Result<std::vector<std::string>> words = tokenize(text);
    if (!words) {
        return words.error();
    }
    return parse_diag_request(*words);
}

TEST(DiagRequest, ParsesEveryAllowedForm) {
    for (const char* text :
         {"systemctl status nginx",
          "systemctl is-active nginx ssh",
          "systemctl is-enabled a@b",
          "systemctl is-failed x.service",
          "systemctl list-units",
          "systemctl list-units --failed --type=service",
          "systemctl list-timers",
          "journalctl",
          "journalctl -u nginx -u ssh -n 50 --since today --until now -p err -b -o short-iso",
          "journalctl -b --no-hostname",
          "journalctl --since '2026-01-02 10:00:00' --until -1h",
          "cat /etc/hostname",
          "head -n 5 /var/log/syslog",
          "tail /var/log/syslog",
          "ls /var/log",
          "ls -l -a /var/log",
          "stat /etc",
          "df",
          "free",
          "uptime",
          "ps",
          "ss -tlnu",
          "docker ps",
          "podman ps",
          "docker logs web",
          "docker logs --tail 20 --since 10m web",
          "podman logs --since 2026-01-02 db"}) {
        Result<DiagRequest> request = parse(text);
        EXPECT_TRUE(request) << text << ": " << (request ? "" : request.error().message);
    }
}

TEST(DiagRequest, RefusesWhatTheGrammarDoesNotNameWithAControlEach) {
    const std::pair<const char*, const char*> cases[] = {
        // journalctl: other roots, machines, files, mutation, paging, follow
        {"journalctl -D /tmp/j", "journalctl -u nginx"},
        {"journalctl --directory=/tmp/j", "journalctl -u nginx"},
        {"journalctl --root /mnt", "journalctl -u nginx"},
        {"journalctl --image x.img", "journalctl -u nginx"},
        {"journalctl -M other", "journalctl -u nginx"},
        {"journalctl --vacuum-size=1", "journalctl -n 1"},
        {"journalctl --rotate", "journalctl -n 1"},
        {"journalctl --setup-keys", "journalctl -n 1"},
        {"journalctl -f", "journalctl -n 1"},
        {"journalctl -e", "journalctl -n 1"},
        {"journalctl --no-pag", "journalctl --no-hostname"},
        {"journalctl --unit nginx", "journalctl -u nginx"},
        {"journalctl -unginx", "journalctl -u nginx"},
        {"journalctl -n5", "journalctl -n 5"},
        {"journalctl -n 0", "journalctl -n 1"},
        {"journalctl -n 10001", "journalctl -n 10000"},
        {"journalctl -n -5", "journalctl -n 5"},
        {"journalctl -n 05", "journalctl -n 5"},
        {"journalctl -o verbose", "journalctl -o short-iso"},
        {"journalctl -o json", "journalctl -o cat"}, // _CMDLINE of every entry
        {"journalctl -o export", "journalctl -o cat"},
        {"systemctl status user.slice", "systemctl status nginx"}, // every login's processes
        {"systemctl status system.slice", "systemctl status nginx.service"},
        {"systemctl status init.scope", "systemctl status nginx"},
        {"systemctl is-active session-1.scope", "systemctl is-active nginx"},
        {"journalctl -u user.slice", "journalctl -u nginx"},
        {"journalctl -o export", "journalctl -o cat"},
        {"journalctl -p 8", "journalctl -p 7"},
        {"journalctl --since --rotate", "journalctl --since -1h"},
        {"journalctl --since 1h", "journalctl --since -1h"},
        {"journalctl -u -nginx", "journalctl -u nginx"},
        {"journalctl -u ngin/x", "journalctl -u nginx"},
        {"journalctl -u", "journalctl -u nginx"},
        {"journalctl nginx", "journalctl -u nginx"},
        // systemctl: mutation and environment, non-unit operands
        {"systemctl edit nginx", "systemctl status nginx"},
        {"systemctl link /tmp/x.service", "systemctl status x.service"},
        {"systemctl set-environment A=1", "systemctl status nginx"},
        {"systemctl show-environment", "systemctl list-timers"},
        {"systemctl log-level debug", "systemctl list-timers"},
        {"systemctl start nginx", "systemctl status nginx"},
        {"systemctl status", "systemctl status nginx"},
        {"systemctl status /etc/passwd", "systemctl status nginx"},
        {"systemctl status -H host nginx", "systemctl status nginx"},
        {"systemctl status nginx --no-pager=no", "systemctl status nginx"},
        {"systemctl status 1234", "systemctl status nginx"},
        {"systemctl list-units --all", "systemctl list-units --failed"},
        {"systemctl list-units --type=garbage", "systemctl list-units --type=timer"},
        {"systemctl list-units --failed --failed", "systemctl list-units --failed"},
        {"systemctl list-timers --all", "systemctl list-timers"},
        {"systemctl", "systemctl list-timers"},
        // files: options, operands, paths
        {"cat -n 5 /etc/hostname", "cat /etc/hostname"},
        {"cat /etc/hostname /etc/passwd", "cat /etc/hostname"},
        {"cat etc/hostname", "cat /etc/hostname"},
        {"cat /etc/../etc/shadow", "cat /etc/hostname"},
        {"cat /etc/./hostname", "cat /etc/hostname"},
        {"cat /etc//hostname", "cat /etc/hostname"},
        {"cat /etc/", "cat /etc/hostname"},
        {"cat -", "cat /etc/hostname"},
        {"cat", "cat /etc/hostname"},
        {"head -c 5 /etc/hostname", "head -n 5 /etc/hostname"},
        {"tail -f /var/log/syslog", "tail -n 5 /var/log/syslog"},
        {"tail /var/log/syslog -n 5", "tail -n 5 /var/log/syslog"},
        {"ls -laR /", "ls -l -a /"},
        {"ls -R /var/log", "ls /var/log"},
        {"ls -l", "ls -l /var/log"},
        {"stat -c %n /etc", "stat /etc"},
        // plain tools take nothing more
        {"df /", "df"},
        {"free -s 1", "free"},
        {"ps aux", "ps"},
        {"ps -ef", "ps"},
        {"ss -tlnup", "ss -tlnu"},
        {"ss", "ss -tlnu"},
        // containers
        {"docker -H tcp://evil ps", "docker ps"},
        {"docker inspect web", "docker ps"},
        {"docker run -v /:/mnt alpine", "docker ps"},
        {"docker ps --runtime x", "docker ps"},
        {"podman --hooks-dir /tmp ps", "podman ps"},
        {"docker logs -f web", "docker logs web"},
        {"docker logs --tail 5 web extra", "docker logs --tail 5 web"},
        {"docker logs --tail all web", "docker logs --tail 5 web"},
        {"docker logs -web", "docker logs web"},
        // nothing else exists
        {"less /etc/hostname", "cat /etc/hostname"},
        {"man -H ls", "cat /etc/hostname"},
        {"dmesg -F /tmp/x", "cat /etc/hostname"},
        {"env PAGER=sh journalctl", "journalctl"},
        {"LD_PRELOAD=/tmp/x.so cat /etc/hostname", "cat /etc/hostname"},
        {"sh", "df"},
        {"find / -name x", "df"},
        {"git log", "df"},
        {"tar cf /tmp/x /etc", "df"},
    };
    for (const auto& [bad, good] : cases) {
        EXPECT_FALSE(parse(bad)) << bad;
        Result<DiagRequest> control = parse(good);
        EXPECT_TRUE(control) << good << ": " << (control ? "" : control.error().message);
    }
}

} // namespace
} // namespace fleet
