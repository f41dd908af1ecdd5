#include "host/adaptive/sync_messages.hpp"

#include <algorithm>
#include <array>

#include "host/adaptive/intent_table.hpp"
#include "host/common/expects.hpp"

namespace gapm::detail {
namespace {

[[noreturn]] void malformed(const char* message, const std::string& what) {
  throw wire::malformed_message(std::string(message) + ": " + what);
}

template <class V, class Vector = std::vector<V>>
Vector read(wire::payload_reader& in, std::size_t n, const char* message, const char* what) {
  auto values = in.read<V, Vector>(n);
  if (!values) malformed(message, concat("payload too short for ", n, " ", what));
  return std::move(*values);
}

void check_keys(const std::vector<key_type>& keys, const key_space& space, int channels, int channel,
                const char* message) {
  for (key_type k : keys)
    if (k >= space.num_keys() || channel_of(k, channels) != channel)
      malformed(message, concat("key ", k, " is out of range or of another channel"));
}

}  // namespace

template <class T>
void sync_request<T>::add(key_type key, std::uint8_t ask, std::int64_t version, std::span<const T> delta,
                          std::int64_t hint) {
  keys.push_back(key);
  asks.push_back(ask);
  versions.push_back(version);
  hints.push_back(hint);
  if (ask & sync_ask::delta) deltas.insert(deltas.end(), delta.begin(), delta.end());
  delta_at.push_back(deltas.size());
}

template <class T>
void sync_request<T>::add_placed(key_type key, std::uint8_t ask, std::int64_t version, std::size_t delta_length) {
  keys.push_back(key);
  asks.push_back(ask);
  versions.push_back(version);
  hints.push_back(no_hint);
  delta_at.push_back(delta_at.back() + ((ask & sync_ask::delta) ? delta_length : 0));
}

template <class T>
sync_request<T> sync_request<T>::pick(std::span<const std::uint32_t> picks, std::span<const std::int64_t> new_hints) const {
  sync_request out;
  for (std::size_t p = 0; p < picks.size(); ++p) {
    const std::uint32_t i = picks[p];
    GAPM_EXPECTS(!has_delta(i) || deltas_on_host(), "sync request: picking a delta that is on the device");
    out.add(keys[i], asks[i], versions[i], has_delta(i) ? delta(i) : std::span<const T>(),
            new_hints.empty() ? hints[i] : new_hints[p]);
  }
  return out;
}

template <class T>
std::vector<std::byte> sync_request<T>::encode(wire::header head) const {
  head.kind = static_cast<std::uint8_t>(wire::kind::sync_request);
  head.count = keys.size();
  const bool hinted = std::any_of(hints.begin(), hints.end(), [](std::int64_t h) { return h != no_hint; });
  head.flags = static_cast<std::uint8_t>(hinted ? head.flags | wire::has_hints : head.flags & ~wire::has_hints);
  // Deltas not on the host follow on the data plane (sent with the frame).
  const std::span<const T> inline_deltas = deltas_on_host() ? std::span<const T>(deltas) : std::span<const T>();
  if (hinted) return wire::encode(head, keys, asks, versions, inline_deltas, hints);
  return wire::encode(head, keys, asks, versions, inline_deltas);
}

template <class T>
sync_request<T> sync_request<T>::decode(const wire::message& m, const key_space& space, int channels, int channel) {
  constexpr const char* what = "sync request";
  wire::payload_reader in(m.payload);
  sync_request r;
  r.keys = read<key_type>(in, m.head.count, what, "keys");
  r.asks = read<std::uint8_t>(in, m.head.count, what, "asks");
  r.versions = read<std::int64_t>(in, m.head.count, what, "versions");
  check_keys(r.keys, space, channels, channel, what);
  r.delta_at.resize(r.keys.size() + 1, 0);
  for (std::size_t i = 0; i < r.keys.size(); ++i) {
    if (r.asks[i] == 0 || r.asks[i] > (sync_ask::delta | sync_ask::refresh)) malformed(what, "an entry asks nothing known");
    r.delta_at[i + 1] = r.delta_at[i] + (r.has_delta(i) ? space.row_length_of(r.keys[i]) : 0);
  }
  r.arrived = wire::plane_rows_of(m, r.delta_values() * sizeof(T));  // null: the deltas are in the payload
  if (!r.arrived) r.deltas = read<T, pinned_vector<T>>(in, r.delta_values(), what, "delta values");
  r.hints = m.head.carries_hints() ? read<std::int64_t>(in, m.head.count, what, "hints")
                                   : std::vector<std::int64_t>(m.head.count, no_hint);
  if (in.remaining() != 0) malformed(what, "payload longer than its entries");
  return r;
}

template <class T>
void sync_response<T>::add(key_type key, sync_answer answer, std::int64_t version, std::int64_t counter) {
  keys.push_back(key);
  answers.push_back(answer);
  versions.push_back(version);
  counters.push_back(counter);
}

template <class T>
T* sync_response<T>::append_values(std::size_t n) {
  if (device_values.bytes() == 0) {
    values.resize(values.size() + n);
    return values.data() + values.size() - n;
  }
  GAPM_EXPECTS((device_size + n) * sizeof(T) <= device_values.bytes(), "sync response: more rows than were planned");
  device_size += n;
  return reinterpret_cast<T*>(device_values.data()) + device_size - n;
}

template <class T>
std::vector<std::byte> sync_response<T>::encode(wire::header head) const {
  head.kind = static_cast<std::uint8_t>(wire::kind::sync_response);
  head.count = keys.size();
  const std::array<std::uint64_t, 2> tally{handled, acknowledges ? 1u : 0u};
  return wire::encode(head, tally, keys, answers, versions, counters, values);
}

template <class T>
sync_response<T> sync_response<T>::decode(const wire::message& m, const key_space& space, int channels, int channel) {
  constexpr const char* what = "sync response";
  wire::payload_reader in(m.payload);
  sync_response r;
  const auto tally = read<std::uint64_t>(in, 2, what, "tally");
  r.handled = tally[0];
  if (tally[1] > 1) malformed(what, "the acknowledgement is not 0 or 1");
  r.acknowledges = tally[1] == 1;
  r.keys = read<key_type>(in, m.head.count, what, "keys");
  r.answers = read<sync_answer>(in, m.head.count, what, "answers");
  r.versions = read<std::int64_t>(in, m.head.count, what, "versions");
  r.counters = read<std::int64_t>(in, m.head.count, what, "counters");
  check_keys(r.keys, space, channels, channel, what);
  std::size_t values = 0;
  for (std::size_t i = 0; i < r.keys.size(); ++i) {
    if (r.answers[i] > sync_answer::relocated_shared) malformed(what, "an unknown answer");
    if (r.answers[i] != sync_answer::current) values += space.row_length_of(r.keys[i]);
  }
  if (r.keys.size() > r.handled) malformed(what, "more answers than handled entries");
  r.arrived = wire::plane_rows_of(m, values * sizeof(T));  // null: the rows are in the payload
  if (!r.arrived) r.values = read<T, pinned_vector<T>>(in, values, what, "values");
  if (in.remaining() != 0) malformed(what, "payload longer than its answers");
  return r;
}

std::vector<std::byte> directory_update::encode(wire::header head) const {
  head.kind = static_cast<std::uint8_t>(wire::kind::directory_update);
  head.count = keys.size();
  return wire::encode(head, keys, owners, counters);
}

directory_update directory_update::decode(const wire::message& m, const key_space& space, int rank, int world_size) {
  constexpr const char* what = "directory update";
  wire::payload_reader in(m.payload);
  directory_update u;
  u.keys = read<key_type>(in, m.head.count, what, "keys");
  u.owners = read<int>(in, m.head.count, what, "owners");
  u.counters = read<std::int64_t>(in, m.head.count, what, "counters");
  if (in.remaining() != 0) malformed(what, "payload longer than its entries");
  for (std::size_t i = 0; i < u.keys.size(); ++i) {
    if (u.keys[i] >= space.num_keys() || u.keys[i] % static_cast<key_type>(world_size) != static_cast<key_type>(rank))
      malformed(what, concat("key ", u.keys[i], " is not homed at node ", rank));
    if (u.owners[i] < 0 || u.owners[i] >= world_size) malformed(what, concat("owner ", u.owners[i], " is no node"));
  }
  return u;
}

template struct sync_request<float>;
template struct sync_request<double>;
template struct sync_request<std::int64_t>;
template struct sync_response<float>;
template struct sync_response<double>;
template struct sync_response<std::int64_t>;

}  // namespace gapm::detail
