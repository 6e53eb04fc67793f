#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "dispatch/cli.hpp"

namespace {

fleet::Result<fleet::CommandLine> parse(std::vector<const char*> args) {
    args.insert(args.begin(), "dispatch");
    return fleet::parse_command_line(static_cast<int>(args.size()), args.data());
}

template <typename Args>
Args args_of(const fleet::Result<fleet::CommandLine>& line) {
    EXPECT_TRUE(line.ok()) << line.error().message;
    EXPECT_TRUE(std::holds_alternative<Args>(line->args));
    return std::get<Args>(line->args);
}

std::string read_doc(const std::string& name) {
    std::ifstream in(std::string(FLEET_SOURCE_DIR) + "/docs/" + name);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

TEST(CommandLine, RunWithOptions) {
    const auto line = parse({"-c", "/etc/x.toml", "-a", "a,b", "--timeout", "30m", "blueprint",
                             "make", "a plan", "--json", "-u", "ubuntu", "--label", "k=v"});
    EXPECT_EQ(line->subcommand, fleet::Subcommand::run);
    EXPECT_EQ(line->config_path, "/etc/x.toml");
    EXPECT_EQ(line->user, "ubuntu");
    const auto run = args_of<fleet::RunArgs>(line);
    EXPECT_EQ(run.agents, (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(run.timeout, std::chrono::minutes(30));
    EXPECT_EQ(run.task, "blueprint");
    EXPECT_EQ(run.prompt_words, (std::vector<std::string>{"make", "a plan"}));
    EXPECT_EQ(run.labels, (fleet::Labels{{"k", "v"}}));
    EXPECT_TRUE(run.json);
}

// One --label, one label, commas and all; report's paths are made absolute against the
// caller's directory, before any drop changes it.
TEST(CommandLine, ARepeatedOptionsValueIsOneItem) {
    const auto run = args_of<fleet::RunArgs>(parse({"--label", "k=a,b", "--label", "j=c", "run"}));
    EXPECT_EQ(run.labels, (fleet::Labels{{"k", "a,b"}, {"j", "c"}}));
    const auto report = args_of<fleet::ReportArgs>(
        parse({"report", "--from", "fleet,old", "--from", "/abs", "-o", "page.html"}));
    const std::string here = std::filesystem::current_path().string();
    EXPECT_EQ(report.from, (std::vector<std::string>{here + "/fleet,old", "/abs"}));
    EXPECT_EQ(report.output, here + "/page.html");
    EXPECT_EQ(args_of<fleet::ReportArgs>(parse({"report"})).output, "") << "stdout";
    EXPECT_FALSE(parse({"report", "--from", ""}));
}

TEST(CommandLine, EverythingAfterDoubleDashIsPrompt) {
    const auto run = args_of<fleet::RunArgs>(parse({"run", "--", "-rf", "--json"}));
    EXPECT_EQ(run.prompt_words, (std::vector<std::string>{"-rf", "--json"}));
    EXPECT_FALSE(run.json);
}

TEST(CommandLine, EachSubcommandGetsItsOwnArguments) {
    const auto list = args_of<fleet::ListArgs>(parse({"list", "--json", "--limit", "5"}));
    EXPECT_EQ(list.limit, 5U);
    EXPECT_TRUE(list.json);
    EXPECT_EQ(args_of<fleet::ListArgs>(parse({"list"})).limit, 50U);
    EXPECT_EQ(args_of<fleet::StatusArgs>(parse({"status", "20260109-190805-dztnfw"})).run_id,
              "20260109-190805-dztnfw");
    const auto logs =
        args_of<fleet::LogsArgs>(parse({"logs", "id", "--agent", "a", "-f", "--tail", "3"}));
    EXPECT_EQ(logs.agent, "a");
    EXPECT_TRUE(logs.follow);
    EXPECT_EQ(logs.tail, 3U);
    EXPECT_EQ(args_of<fleet::WaitArgs>(parse({"wait", "id", "--timeout", "90s"})).timeout,
              std::chrono::seconds(90));
    EXPECT_EQ(args_of<fleet::CancelArgs>(parse({"cancel", "id"})).agent, "");
    const auto prune = args_of<fleet::PruneArgs>(parse({"prune", "--keep", "3", "--dry-run"}));
    EXPECT_EQ(prune.keep, 3U);
    EXPECT_FALSE(prune.older_than);
    EXPECT_TRUE(prune.dry_run);
    // prune alone: the config's prune_older_than decides (operate.hpp), no usage error.
    const auto configured = args_of<fleet::PruneArgs>(parse({"prune"}));
    EXPECT_FALSE(configured.keep);
    EXPECT_FALSE(configured.older_than);
    EXPECT_TRUE(args_of<fleet::DoctorArgs>(parse({"doctor", "--fix", "-u", "bob"})).fix);
    const auto json = args_of<fleet::DoctorArgs>(parse({"doctor", "--json"}));
    EXPECT_TRUE(json.json);
    EXPECT_FALSE(json.fix);
    for (const char* word : {"agents", "config", "help", "version"}) {
        args_of<fleet::NoArgs>(parse({word}));
    }
    EXPECT_EQ(parse({"help"})->subcommand, fleet::Subcommand::help);
    EXPECT_EQ(parse({"status", "x", "--help"})->subcommand, fleet::Subcommand::help);
    EXPECT_EQ(parse({"--version"})->subcommand, fleet::Subcommand::version);
}

TEST(CommandLine, TheProgramNameSetsTheAgents) {
    for (const char* name :
         {"/home/ubuntu/claude-executor/dispatch-unified.sh", "dispatch-unified"}) {
        std::vector<const char*> args = {name, "blueprint", "x"};
        EXPECT_TRUE(args_of<fleet::RunArgs>(fleet::parse_command_line(3, args.data())).unified)
            << name;
    }
    std::vector<const char*> codex = {"/opt/dispatch-codex.sh", "run", "x"};
    EXPECT_EQ(args_of<fleet::RunArgs>(fleet::parse_command_line(3, codex.data())).alias_agent,
              "codex");
    std::vector<const char*> plain = {"dispatch.sh", "run", "x"};
    const auto run = args_of<fleet::RunArgs>(fleet::parse_command_line(3, plain.data()));
    EXPECT_FALSE(run.unified);
    EXPECT_EQ(run.alias_agent, "");
}

// Each refusal names its problem; every refused line has a control above that parses.
TEST(CommandLine, UsageErrorsNameTheProblem) {
    const std::vector<std::pair<std::vector<const char*>, std::string>> cases = {
        {{}, "missing TASK (or list, status, logs); see dispatch --help"},
        {{"--bogus", "run", "x"}, "Option 'bogus' does not exist"}, // the same on every release
        {{"-a", "a,,b", "run", "x"}, "-a 'a,,b' has an empty agent name"},
        {{"-a", "a,a", "run", "x"}, "-a 'a,a' names agent 'a' twice"},
        {{"--timeout", "soon", "run", "x"}, "--timeout: "},
        {{"--prompt-file", "f", "run", "words"},
         "give the prompt as words or with --prompt-file, not both"},
        {{"--console", "loud", "run", "x"}, "--console 'loud': use full, summary or none"},
        {{"--label", "K=v", "run", "x"}, "--label 'K=v' is not KEY=VALUE"},
        {{"list", "extra"}, "list takes no operands"},
        {{"list", "--limit", "x"}, "--limit 'x' is not a number"},
        {{"list", "-a", "x"}, "--agents does not apply to 'list'"},
        {{"status"}, "status takes exactly one RUN_ID"},
        {{"status", "a", "b"}, "status takes exactly one RUN_ID"},
        {{"logs", "id", "--json"}, "--json does not apply to 'logs'"},
        {{"run", "x", "--limit", "3"}, "--limit does not apply to 'TASK'"},
        {{"doctor", "--json", "--fix"}, "doctor --json is read-only: not with --fix"},
        {{"-c", "", "list"}, "-c needs a path"},
        {{"help", "me"}, "help takes no operands"},
    };
    for (const auto& [args, message] : cases) {
        const auto line = parse(args);
        ASSERT_FALSE(line.ok()) << (args.empty() ? "(none)" : args[0]);
        EXPECT_EQ(line.error().kind, fleet::ErrorKind::invalid_input);
        EXPECT_EQ(line.error().message.substr(0, message.size()), message);
    }
}

TEST(CommandLine, TheSubcommandsAreTheReservedWords) {
    for (const char* word : {"list", "status", "logs", "wait", "cancel", "prune", "doctor",
                             "agents", "config", "help", "version"}) {
        EXPECT_TRUE(fleet::is_reserved_word(word)) << word;
    }
    EXPECT_FALSE(fleet::is_reserved_word("run"));
    EXPECT_FALSE(fleet::is_reserved_word("TASK"));
    EXPECT_FALSE(fleet::is_reserved_word("blueprint"));
}

// docs/dispatch.md shows the synopsis the table makes, and a row for every option in --help.
TEST(CommandLine, TheDocsShowTheTable) {
    const std::string doc = read_doc("dispatch.md");
    EXPECT_NE(doc.find("## Usage\n\n```\n" + fleet::synopsis() + "```\n"), std::string::npos)
        << "docs/dispatch.md's Usage block should read:\n"
        << fleet::synopsis();
    std::istringstream help(fleet::usage_text());
    bool in_options = false;
    for (std::string line; std::getline(help, line);) {
        EXPECT_LE(line.size(), 80U) << line;
        if (line == "options:") {
            in_options = true;
            continue;
        }
        if (!in_options || line.empty()) {
            in_options = in_options && !line.empty();
            continue;
        }
        const size_t start = line.find("--");
        const std::string name = line.substr(start, line.find(' ', start) - start);
        if (name != "--help" && name != "--version") {
            EXPECT_NE(doc.find("`" + name), std::string::npos) << name << " has no row";
        }
    }
}

} // namespace
