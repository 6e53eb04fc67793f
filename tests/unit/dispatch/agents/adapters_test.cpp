#include <gtest/gtest.h>
#include <toml++/toml.h>

#include "dispatch/agents/adapters.hpp"

namespace {

TEST(Adapters, CommandsFollowEachCliHeadlessRules) {
    const auto claude = fleet::adapter_command(*fleet::builtin_adapter("claude"), "opus", "", {},
                                               "p", "/r/prompt.txt");
    EXPECT_TRUE(claude.stdin_prompt);
    const auto has = [](const std::vector<std::string>& args, const std::string& arg) {
        return std::find(args.begin(), args.end(), arg) != args.end();
    };
    EXPECT_TRUE(has(claude.args, "--verbose")); // stream-json needs it in print mode
    EXPECT_TRUE(has(claude.args, "opus"));

    const auto codex = fleet::adapter_command(*fleet::builtin_adapter("codex"), "", "http://h/v1",
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

    const auto gemini = fleet::adapter_command(*fleet::builtin_adapter("gemini"), "", "http://h",
                                               {}, "p", "/r/prompt.txt");
    EXPECT_EQ(gemini.env.at("GEMINI_CLI_TRUST_WORKSPACE"), "true");
    EXPECT_EQ(gemini.env.at("GEMINI_CLI_NO_RELAUNCH"), "true");
    EXPECT_EQ(gemini.env.at("GOOGLE_GEMINI_BASE_URL"), "http://h");

    const auto grok = fleet::adapter_command(*fleet::builtin_adapter("grok"), "", "http://g", {},
                                             "the prompt", "/r/prompt.txt");
    EXPECT_FALSE(grok.stdin_prompt);
    EXPECT_EQ(grok.args.back(), "the prompt");
    EXPECT_EQ(grok.env.at("GROK_BASE_URL"), "http://g"); // never -u: grok persists it

    const auto aider =
        fleet::adapter_command(*fleet::builtin_adapter("aider"), "", "", {}, "p", "/r/prompt.txt");
    EXPECT_EQ(aider.args.back(), "/r/prompt.txt");
    EXPECT_TRUE(has(aider.args, "--yes-always"));
    EXPECT_EQ(fleet::builtin_adapter("other"), nullptr);
}

TEST(ReadOutcome, ClaudeIsJudgedByIsErrorNotSubtype) {
    const auto failed = fleet::read_outcome(
        "claude",
        "{\"type\":\"system\"}\n{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":true,"
        "\"result\":\"API Error: 500 overloaded\"}\n",
        1);
    EXPECT_TRUE(failed.failed);
    EXPECT_EQ(failed.reason, "API error 500");
    const auto ok = fleet::read_outcome(
        "claude", "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false}\n", 0);
    EXPECT_FALSE(ok.failed);
    EXPECT_TRUE(fleet::read_outcome("claude", "no json at all\n", 0).failed);
    // Killed by TERM (no exit code): no result record is expected, nothing to add.
    EXPECT_FALSE(fleet::read_outcome("claude", "", std::nullopt).failed);
}

TEST(ReadOutcome, GeminiExitCodes) {
    EXPECT_EQ(fleet::read_outcome("gemini", "", 55).reason, "untrusted workspace");
    EXPECT_EQ(fleet::read_outcome("gemini", "", 41).reason, "auth error");
    EXPECT_EQ(fleet::read_outcome("gemini", "", 173).reason, "API error 429"); // 429 mod 256
    EXPECT_EQ(fleet::read_outcome("gemini", "", 1).reason, "");
}

TEST(ReadOutcome, GrokErrorsInBothForms) {
    const auto own = fleet::read_outcome(
        "grok", "{\"role\":\"assistant\",\"content\":\"Error: 401 Incorrect API key\"}\n", 1);
    EXPECT_TRUE(own.failed);
    // Grok CLI 0.0.34 reports an API error as an apology, with exit 0 (seen by make e2e).
    const auto api = fleet::read_outcome(
        "grok",
        "{\"role\":\"user\",\"content\":\"hi\"}\n{\"role\":\"assistant\",\"content\":"
        "\"Sorry, I encountered an error: Grok API error: 401 stub 401\"}\n",
        0);
    EXPECT_TRUE(api.failed);
    EXPECT_NE(api.reason.find("401"), std::string::npos) << api.reason;
    EXPECT_FALSE(
        fleet::read_outcome("grok", "{\"role\":\"assistant\",\"content\":\"Sorry, no.\"}\n", 0)
            .failed);
}

TEST(ReadOutcome, AiderErrorsFailDespiteExitZero) {
    const auto outcome = fleet::read_outcome(
        "aider", "Aider v0.86\nlitellm.APIConnectionError: Connection refused\n", 0);
    EXPECT_TRUE(outcome.failed);
    EXPECT_EQ(outcome.reason, "APIConnectionError: Connection refused");
    EXPECT_FALSE(fleet::read_outcome("aider", "Applied edit to x.py\n", 0).failed);
}

// The base URL lands in a TOML value on codex's command line: it stays one string whatever it
// holds (a quote and a key of its own here), and the provider keeps its own keys.
TEST(Adapters, CodexBaseUrlIsOneQuotedTomlString) {
    const std::string hostile = "http://h/v1\", wire_api = \"chat\\";
    const auto codex = fleet::adapter_command(*fleet::builtin_adapter("codex"), "", hostile, {},
                                              "p", "/r/prompt.txt");
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
    const auto odd = fleet::read_outcome("claude", "{\"type\":\"result\",\"is_error\":\"no\"}\n", 0);
    EXPECT_TRUE(odd.failed);
    EXPECT_EQ(odd.reason, "result record without a boolean is_error");
    // Negative or fractional counts are no counts.
    const auto counts = fleet::read_outcome(
        "claude",
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
        EXPECT_NO_THROW(fleet::read_outcome(agent, deep, 0)) << agent;
        EXPECT_NO_THROW(fleet::read_outcome(agent, std::string("{\"type\":\"result\",\"usage\":"
                                                               "[],\"stats\":7,\"error\":1}\n"),
                                            0))
            << agent;
    }
    // Control: a record nested as the CLIs nest theirs is read.
    EXPECT_TRUE(fleet::read_outcome("claude",
                                    "{\"type\":\"result\",\"is_error\":true,\"x\":[[{}]]}\n", 1)
                    .failed);
}

TEST(ReadOutcome, GenericAgentsHaveNone) {
    EXPECT_FALSE(fleet::read_outcome("mine", "Error: anything\n", 0).failed);
}

} // namespace
