#include <gtest/gtest.h>

#include "dispatch/cli.hpp"

namespace {

fleet::Result<fleet::CommandLine> parse(std::vector<const char*> args) {
    args.insert(args.begin(), "dispatch");
    return fleet::parse_command_line(static_cast<int>(args.size()), args.data());
}

TEST(CommandLine, RunWithOptions) {
    const auto line = parse({"-c", "/etc/x.toml", "-a", "a,b", "--timeout", "30m", "blueprint",
                             "make", "a plan", "--json"});
    ASSERT_TRUE(line.ok()) << line.error().message;
    EXPECT_EQ(line->subcommand, fleet::Subcommand::run);
    EXPECT_EQ(line->config_path, "/etc/x.toml");
    EXPECT_EQ(line->agents, (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(line->timeout, std::chrono::minutes(30));
    EXPECT_EQ(line->task, "blueprint");
    EXPECT_EQ(line->prompt_words, (std::vector<std::string>{"make", "a plan"}));
    EXPECT_TRUE(line->json);
}

TEST(CommandLine, EverythingAfterDoubleDashIsPrompt) {
    const auto line = parse({"run", "--", "-rf", "--json"});
    ASSERT_TRUE(line.ok()) << line.error().message;
    EXPECT_EQ(line->prompt_words, (std::vector<std::string>{"-rf", "--json"}));
    EXPECT_FALSE(line->json);
}

TEST(CommandLine, Subcommands) {
    auto list = parse({"list", "--json", "--limit", "5"});
    ASSERT_TRUE(list.ok());
    EXPECT_EQ(list->subcommand, fleet::Subcommand::list);
    EXPECT_EQ(list->limit, 5U);
    auto status = parse({"status", "20260109-190805-dztnfw"});
    ASSERT_TRUE(status.ok());
    EXPECT_EQ(status->run_id, "20260109-190805-dztnfw");
    auto logs = parse({"logs", "20260109-190805-dztnfw", "--agent", "a"});
    ASSERT_TRUE(logs.ok());
    EXPECT_EQ(logs->agent, "a");
}

TEST(CommandLine, TheProgramNameSetsTheAgents) {
    for (const char* name :
         {"/home/ubuntu/claude-executor/dispatch-unified.sh", "dispatch-unified"}) {
        std::vector<const char*> args = {name, "blueprint", "x"};
        const auto line = fleet::parse_command_line(3, args.data());
        ASSERT_TRUE(line.ok());
        EXPECT_TRUE(line->unified) << name;
    }
    std::vector<const char*> codex = {"/opt/dispatch-codex.sh", "run", "x"};
    EXPECT_EQ(fleet::parse_command_line(3, codex.data())->alias_agent, "codex");
    std::vector<const char*> plain = {"dispatch.sh", "run", "x"};
    const auto line = fleet::parse_command_line(3, plain.data());
    EXPECT_FALSE(line->unified);
    EXPECT_EQ(line->alias_agent, "");
}

TEST(CommandLine, UsageErrors) {
    for (const std::vector<const char*>& args : {std::vector<const char*>{},
                                                 {"--bogus", "run", "x"},
                                                 {"-a", "a,,b", "run", "x"},
                                                 {"-a", "a,a", "run", "x"},
                                                 {"--timeout", "soon", "run", "x"},
                                                 {"--prompt-file", "f", "run", "words"},
                                                 {"list", "extra"},
                                                 {"list", "--limit", "x"},
                                                 {"list", "-a", "x"},
                                                 {"status"},
                                                 {"status", "a", "b"},
                                                 {"logs", "id", "--json"},
                                                 {"run", "x", "--limit", "3"}}) {
        EXPECT_FALSE(parse(args).ok()) << (args.empty() ? "(none)" : args[0]);
    }
}

} // namespace
