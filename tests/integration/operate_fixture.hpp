// The fixture of the operate_test suite (operate_test.cpp, operate_doctor.cpp,
// operate_display.cpp): RunnerFixture's throwaway user and scratch directory, with a config of
// small shell agents. Header-only: DISPATCH_PATH comes from the suite's target.
#pragma once

#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/files.hpp"
#include "support/process.hpp"
#include "support/runner_fixture.hpp"

namespace fs = std::filesystem;
using fleet::test::alive;
using fleet::test::ProcessResult;
using fleet::test::read_file;
using fleet::test::run_id_of;
using fleet::test::RunnerFixture;
using fleet::test::RunOptions;
using fleet::test::survivors;
using fleet::test::write_file;
using nlohmann::json;

inline const std::string k_dispatch = DISPATCH_PATH;

class Operate : public RunnerFixture {
protected:
    static void SetUpTestSuite() {
        set_up_runner("o", "operate");
        write_file(
            s_config,
            "user = \"" + s_user +
                "\"\ngrace = \"1s\"\n"
                "[agents.short]\ncommand = [\"/bin/sh\", \"-c\", \"sleep 2; echo short done\"]\n"
                "[agents.slow]\ncommand = [\"/bin/sh\", \"-c\", \"echo started; sleep 60\"]\n"
                "[agents.quick]\ncommand = [\"/bin/sh\", \"-c\", \"echo quick\"]\n"
                "[agents.fail]\ncommand = [\"/bin/sh\", \"-c\", \"exit 3\"]\n"
                "[agents.ticker]\ncommand = [\"/bin/sh\", \"-c\", \"for i in 1 2 3 4 5; do "
                "echo line $i; sleep 0.3; done; printf end\"]\n",
            0644);
    }
};
