#include <algorithm>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <toml++/toml.h>

#include "admin/legacy_dir.hpp"
#include "dispatch/agents/agent_cli.hpp"

namespace {

fleet::AgentOutcome read(const char* agent, const std::string& log, std::optional<int> code) {
    return fleet::find_agent_cli(agent)->read_outcome(log, code);
}

TEST(AgentCli, CommandsFollowEachCliHeadlessRules) {
    const auto claude = fleet::agent_command(*fleet::find_agent_cli("claude"), "opus", "", {}, "p",
                                             "/r/prompt.txt");
    EXPECT_TRUE(claude.stdin_prompt);
    const auto has = [](const std::vector<std::string>& args, const std::string& arg) {
        return std::find(args.begin(), args.end(), arg) != args.end();
    };
    EXPECT_TRUE(has(claude.args, "--verbose")); // stream-json needs it in print mode
    EXPECT_TRUE(has(claude.args, "opus"));

    const auto codex = fleet::agent_command(*fleet::find_agent_cli("codex"), "", "http://h/v1",
                                            {"--extra"}, "p", "/r/prompt.txt");
    EXPECT_EQ(codex.args.back(), "-"); // the prompt on stdin, nothing else
    EXPECT_TRUE(has(codex.args, "--skip-git-repo-check"));
    EXPECT_TRUE(has(codex.args, "--extra"));
    bool provider = false;
    for (const std::string& arg : codex.args) {
        provider = provider || (arg.find("base_url = \"http://h/v1\"") != std::string::npos &&
                                arg.find("supports_websockets = false") != std::string::npos);
    }
    EXPECT_TRUE(provider);

    const auto gemini = fleet::agent_command(*fleet::find_agent_cli("gemini"), "", "http://h", {},
                                             "p", "/r/prompt.txt");
    EXPECT_EQ(gemini.env.at("GEMINI_CLI_TRUST_WORKSPACE"), "true");
    EXPECT_EQ(gemini.env.at("GEMINI_CLI_NO_RELAUNCH"), "true");
    EXPECT_EQ(gemini.env.at("GOOGLE_GEMINI_BASE_URL"), "http://h");

    const auto grok = fleet::agent_command(*fleet::find_agent_cli("grok"), "", "http://g", {},
                                           "the prompt", "/r/prompt.txt");
    EXPECT_FALSE(grok.stdin_prompt);
    EXPECT_EQ(grok.args.back(), "the prompt");
    EXPECT_EQ(grok.env.at("GROK_BASE_URL"), "http://g"); // never -u: grok persists it

    const auto aider =
        fleet::agent_command(*fleet::find_agent_cli("aider"), "", "", {}, "p", "/r/prompt.txt");
    EXPECT_EQ(aider.args.back(), "/r/prompt.txt");
    EXPECT_TRUE(has(aider.args, "--yes-always"));
    EXPECT_EQ(fleet::find_agent_cli("other"), nullptr);
}

TEST(ReadOutcome, ClaudeIsJudgedByIsErrorNotSubtype) {
    const auto failed = read(
        "claude",
        "{\"type\":\"system\"}\n{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":true,"
        "\"result\":\"API Error: 500 overloaded\"}\n",
        1);
    EXPECT_TRUE(failed.failed);
    EXPECT_EQ(failed.reason, "API error 500");
    const auto ok =
        read("claude", "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false}\n", 0);
    EXPECT_FALSE(ok.failed);
    EXPECT_TRUE(read("claude", "no json at all\n", 0).failed);
    // Killed by TERM (no exit code): no result record is expected, nothing to add.
    EXPECT_FALSE(read("claude", "", std::nullopt).failed);
}

TEST(ReadOutcome, GeminiExitCodes) {
    EXPECT_EQ(read("gemini", "", 55).reason, "untrusted workspace");
    EXPECT_EQ(read("gemini", "", 41).reason, "auth error");
    EXPECT_EQ(read("gemini", "", 173).reason, "API error 429"); // 429 mod 256
    EXPECT_EQ(read("gemini", "", 1).reason, "");
}

TEST(ReadOutcome, GrokErrorsInBothForms) {
    const auto own =
        read("grok", "{\"role\":\"assistant\",\"content\":\"Error: 401 Incorrect API key\"}\n", 1);
    EXPECT_TRUE(own.failed);
    // Grok CLI 0.0.34 reports an API error as an apology, with exit 0 (seen by make e2e).
    const auto api =
        read("grok",
             "{\"role\":\"user\",\"content\":\"hi\"}\n{\"role\":\"assistant\",\"content\":"
             "\"Sorry, I encountered an error: Grok API error: 401 stub 401\"}\n",
             0);
    EXPECT_TRUE(api.failed);
    EXPECT_NE(api.reason.find("401"), std::string::npos) << api.reason;
    EXPECT_FALSE(read("grok", "{\"role\":\"assistant\",\"content\":\"Sorry, no.\"}\n", 0).failed);
}

TEST(ReadOutcome, AiderErrorsFailDespiteExitZero) {
    const auto outcome =
        read("aider", "Aider v0.86\nlitellm.APIConnectionError: Connection refused\n", 0);
    EXPECT_TRUE(outcome.failed);
    EXPECT_EQ(outcome.reason, "APIConnectionError: Connection refused");
    EXPECT_FALSE(read("aider", "Applied edit to x.py\n", 0).failed);
}

// The base URL lands in a TOML value on codex's command line: it stays one string whatever it
// holds (a quote and a key of its own here), and the provider keeps its own keys.
TEST(AgentCli, CodexBaseUrlIsOneQuotedTomlString) {
    const std::string hostile = "http://h/v1\", wire_api = \"chat\\";
    const auto codex = fleet::agent_command(*fleet::find_agent_cli("codex"), "", hostile, {}, "p",
                                            "/r/prompt.txt");
    std::string provider;
    for (const std::string& arg : codex.args) {
        if (arg.rfind("model_providers.fleet=", 0) == 0) {
            provider = arg;
        }
    }
    ASSERT_FALSE(provider.empty());
    toml::table parsed;
    ASSERT_NO_THROW(parsed = toml::parse(provider)) << provider;
    const toml::table& fleet = *parsed["model_providers"]["fleet"].as_table();
    EXPECT_EQ(fleet["base_url"].value<std::string>(), hostile);
    EXPECT_EQ(fleet["wire_api"].value<std::string>(), "responses");
}

// Each parser reads what an agent wrote: nothing it writes may throw, crash or pass for success.
TEST(ReadOutcome, HostileOutputNeverThrows) {
    // is_error that is not a boolean: no verdict can be read from it, so it is a failure.
    const auto odd = read("claude", "{\"type\":\"result\",\"is_error\":\"no\"}\n", 0);
    EXPECT_TRUE(odd.failed);
    EXPECT_EQ(odd.reason, "result record without a boolean is_error");
    // Negative or fractional counts are no counts.
    const auto counts =
        read("claude",
             "{\"type\":\"result\",\"is_error\":false,\"num_turns\":-3,\"usage\":{\"input_tokens\":"
             "-1,\"output_tokens\":2.5}}\n",
             0);
    EXPECT_FALSE(counts.failed);
    EXPECT_FALSE(counts.usage.turns.has_value());
    EXPECT_FALSE(counts.usage.input_tokens.has_value());
    EXPECT_FALSE(counts.usage.output_tokens.has_value());
    // A line nested a million levels deep would overflow a recursive parser's stack.
    const std::string deep = "{\"a\":" + std::string(1000000, '[') + "\n";
    for (const char* agent : {"claude", "codex", "gemini", "grok", "aider"}) {
        EXPECT_NO_THROW(read(agent, deep, 0)) << agent;
        EXPECT_NO_THROW(read(agent,
                             std::string("{\"type\":\"result\",\"usage\":"
                                         "[],\"stats\":7,\"error\":1}\n"),
                             0))
            << agent;
    }
    // A reason comes from the agent's text but stays one short line, whichever field it is
    // taken from (make fuzz found an unknown subtype passed through whole).
    const std::string long_line(300, 'x');
    const auto subtype = read(
        "claude",
        "{\"type\":\"result\",\"is_error\":true,\"subtype\":\"" + long_line + "\\nsecond\"}\n", 1);
    EXPECT_TRUE(subtype.failed);
    EXPECT_EQ(subtype.reason, long_line.substr(0, 157) + "...");
    EXPECT_EQ(
        read("claude", "{\"type\":\"result\",\"is_error\":true,\"subtype\":\"odd\"}\n", 1).reason,
        "odd");
    // Control: a record nested as the CLIs nest theirs is read.
    EXPECT_TRUE(read("claude", "{\"type\":\"result\",\"is_error\":true,\"x\":[[{}]]}\n", 1).failed);
}

// One record per CLI: complete, and what other parts of the project list is derived from it or
// checked against it here.
TEST(AgentClis, EveryRecordIsCompleteAndTheListsAgreeWithIt) {
    std::vector<std::string> legacy = {"dispatch.sh", "dispatch-unified.sh"};
    for (const fleet::AgentCli& cli : fleet::agent_clis()) {
        EXPECT_NE(cli.read_outcome, nullptr) << cli.name;
        EXPECT_NE(cli.base_url, nullptr) << cli.name;
        EXPECT_FALSE(cli.home_state.empty()) << cli.name;
        EXPECT_EQ(fleet::find_agent_cli(cli.name), &cli);
        if (!cli.legacy_script.empty()) {
            legacy.push_back(cli.legacy_script);
        }
    }
    // fleet-admin's list of the old script names (admin/ cannot include dispatch/).
    std::vector<std::string> admin = fleet::legacy_script_names();
    std::sort(legacy.begin(), legacy.end());
    std::sort(admin.begin(), admin.end());
    EXPECT_EQ(legacy, admin);

    // docs/dispatch.md's table names each CLI with its headless invocation.
    std::ifstream file(std::string(FLEET_SOURCE_DIR) + "/docs/dispatch.md");
    std::stringstream docs;
    docs << file.rdbuf();
    for (const fleet::AgentCli& cli : fleet::agent_clis()) {
        std::string invocation = cli.name;
        for (const std::string& arg : cli.headless_args) {
            invocation += " " + arg;
        }
        if (cli.prompt == fleet::PromptInput::argv) {
            invocation += " -p PROMPT";
        } else if (cli.prompt == fleet::PromptInput::file_argument) {
            invocation += " --message-file PROMPT_FILE";
        }
        for (const std::string& arg : cli.final_args) {
            invocation += " " + arg;
        }
        EXPECT_NE(docs.str().find("| `" + cli.name + "` | `" + invocation), std::string::npos)
            << "docs/dispatch.md has no row for " << invocation;
    }
}

} // namespace
