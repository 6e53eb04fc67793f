// Result<T>: a value or an Error, for failures the outside world causes.
//
// The launcher library is built without exceptions (it runs as root, single-threaded, before
// an exec), so every fallible call returns a Result and every caller checks it. Modelled on
// ccache's util/expected.hpp, reduced to what we use.
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace fleet {

// What kind of failure: the caller maps kinds to its own exit codes (fleet-launch: 100 for
// invalid_input, 111 for system; dispatch: 2 and 3).
enum class ErrorKind {
    invalid_input, // the request names something malformed or that does not exist
    system,        // a system call or a verification failed
};

struct Error {
    ErrorKind kind = ErrorKind::system;
    std::string message; // one line, names the problem; no trailing newline
};

// An Error of kind `system` whose message is "<what>: <strerror(err)>".
Error system_error(const std::string& what, int err);

// An Error of kind `invalid_input`.
Error input_error(std::string message);

struct Ok {};

template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : m_value(std::move(value)) {}     // NOLINT(google-explicit-constructor)
    Result(Error error) : m_error(std::move(error)) {} // NOLINT(google-explicit-constructor)

    bool ok() const { return m_value.has_value(); }
    explicit operator bool() const { return ok(); }

    // Precondition: ok().
    T& value() { return *m_value; }
    const T& value() const { return *m_value; }
    T& operator*() { return *m_value; }
    const T& operator*() const { return *m_value; }
    T* operator->() { return &*m_value; }
    const T* operator->() const { return &*m_value; }

    // Precondition: !ok().
    const Error& error() const { return m_error; }

private:
    std::optional<T> m_value;
    Error m_error;
};

// A Result that carries no value.
using Status = Result<Ok>;

} // namespace fleet
