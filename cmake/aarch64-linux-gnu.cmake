# Cross build for arm64 on Debian (dev/check-distros arm64): the aarch64-linux-gnu toolchain of
# crossbuild-essential-arm64, the :arm64 -dev packages of multiarch (/usr/lib/aarch64-linux-gnu),
# headers shared with the host (/usr/include). dev/install-deps --cross-arm64 installs them.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(PKG_CONFIG_EXECUTABLE aarch64-linux-gnu-pkg-config CACHE FILEPATH "pkg-config for arm64")
# Programs are the host's; libraries, headers and CMake packages the target's.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
