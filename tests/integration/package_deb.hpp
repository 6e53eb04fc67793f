// What the package_test suite (package_test.cpp, package_ssm.cpp) shares: the .deb this build
// made. Header-only: PACKAGE_DIR and PACKAGE_VERSION come from the suite's target.
#pragma once

#include <filesystem>
#include <string>

inline const std::string k_package_dir = PACKAGE_DIR;

// The .deb of this build: its version is in its name (builds of earlier commits may lie beside
// it); "" when there is none.
inline std::string deb_path() {
    const std::string tag = std::string("_") + PACKAGE_VERSION + "_";
    for (const auto& entry : std::filesystem::directory_iterator(k_package_dir)) {
        if (entry.path().extension() == ".deb" &&
            entry.path().filename().string().find(tag) != std::string::npos) {
            return entry.path();
        }
    }
    return "";
}
