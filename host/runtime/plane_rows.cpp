#include "host/runtime/plane_rows.hpp"

#include <string>

#include "host/common/expects.hpp"
#include "host/store/memory_space.hpp"

namespace gapm::detail {

template <class T>
outgoing_rows<T>::outgoing_rows(const T* rows, std::span<const std::size_t> offsets, int device, stream_view stream,
                                row_plane* plane)
    : rows_{rows},
      offsets_{offsets},
      device_{device},
      stream_{stream},
      plane_{plane != nullptr && space_of(rows) == memory_space::device ? plane : nullptr} {
  if (plane_ != nullptr) {
    on_device_.emplace(plane_->runtime(), plane_->device());
  } else if (space_of(rows) == memory_space::device) {
    host_copy_.resize(offsets.back());  // read in the caller's stream order
    copy_to_host(host_copy_.data(), rows, host_copy_.size() * sizeof(T), device, stream);
    rows_ = host_copy_.data();
  }
}

template <class T>
pinned_vector<T> outgoing_rows<T>::host_rows(std::span<const std::uint32_t> picks) {
  pinned_vector<T> out;
  if (plane_ != nullptr) {  // device rows that stay off the plane (a request to this node itself)
    const auto rows = device_rows(picks);
    out.resize(rows.bytes() / sizeof(T));
    copy_to_host(out.data(), rows.data(), rows.bytes(), device_, stream_);
    return out;
  }
  for (std::uint32_t i : picks) out.insert(out.end(), rows_ + offsets_[i], rows_ + offsets_[i + 1]);
  return out;
}

template <class T>
device_buffer<std::byte> outgoing_rows<T>::device_rows(std::span<const std::uint32_t> picks) {
  GAPM_EXPECTS(plane_ != nullptr, "outgoing_rows: device rows without the data plane");
  std::size_t values = 0;
  for (std::uint32_t i : picks) values += offsets_[i + 1] - offsets_[i];
  device_runtime& runtime = plane_->runtime();
  device_buffer<std::byte> out(runtime, values * sizeof(T), stream_.handle());
  auto* to = reinterpret_cast<T*>(out.data());
  for (std::size_t p = 0; p < picks.size();) {  // one copy per run of consecutive entries
    std::size_t end = p + 1;
    while (end < picks.size() && picks[end] == picks[end - 1] + 1) ++end;
    const std::size_t from = offsets_[picks[p]], length = offsets_[picks[end - 1] + 1] - from;
    runtime.copy(to, rows_ + from, length * sizeof(T), stream_.handle());
    to += length;
    p = end;
  }
  return out;
}

template <class T>
void outgoing_rows<T>::ready() {
  // The caller waits as it does for host rows: gapm's pipes never wait for a user's stream,
  // which may hold work that waits for other nodes.
  if (plane_ != nullptr) plane_->runtime().synchronize(stream_.handle());
}

template <class T>
incoming_rows<T>::incoming_rows(const wire::message& m, wire::payload_reader& in, std::size_t values,
                                const cluster& net)
    : arrived_{wire::plane_rows_of(m, values * sizeof(T))}, values_{values} {
  if (!arrived_) {
    auto rows = in.read<T, pinned_vector<T>>(values);
    if (!rows) throw wire::malformed_message(concat(wire::kind_name(m.head.kind), ": the rows do not match the keys"));
    host_ = std::move(*rows);
    have_host_ = true;
    return;
  }
  row_plane& plane = *net.plane();
  on_device_.emplace(plane.runtime(), plane.device());
  device_ = reinterpret_cast<const T*>(arrived_->use_on(nullptr));
  plane.runtime().synchronize(nullptr);  // arrived, before any lock is taken
  net.throw_if_failed();                 // an aborted transfer's rows are no rows
}

template <class T>
std::span<const T> incoming_rows<T>::host() {
  if (!have_host_) {
    host_.resize(values_);
    arrived_->copy_to_host(reinterpret_cast<std::byte*>(host_.data()), nullptr);
    have_host_ = true;
  }
  return host_;
}

template class outgoing_rows<float>;
template class outgoing_rows<double>;
template class outgoing_rows<std::int64_t>;
template class incoming_rows<float>;
template class incoming_rows<double>;
template class incoming_rows<std::int64_t>;

}  // namespace gapm::detail
