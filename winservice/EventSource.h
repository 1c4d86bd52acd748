#pragma once

namespace te {

// The Event Log source the service logs under (Poco::EventLogChannel's name).
inline constexpr const char* kEventSource = "TaskEngine Worker";

// Registers kEventSource in the Application log with this .exe as its message file (the
// message table of EventMessages.mc is linked into it). Poco's EventLogChannel would look for
// PocoFoundation.dll, which a static build has not. Quiet and harmless when not allowed
// (no admin rights): events are still written, only shown without their text.
void registerEventSource();

}  // namespace te
