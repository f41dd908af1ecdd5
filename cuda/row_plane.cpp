#include "cuda/row_plane.hpp"

#include <algorithm>
#include <iostream>
#include <thread>

#include <gapm/errors.hpp>

#include "host/common/expects.hpp"

namespace gapm::detail {

const std::byte* received_rows::use_on(device_stream stream) {
  runtime_->wait(stream, arrived_.get());
  return rows_.data();
}

void received_rows::copy_to_host(std::byte* out, device_stream stream) {
  if (rows_.bytes() == 0) return;
  runtime_->copy(out, use_on(stream), rows_.bytes(), stream);
  runtime_->synchronize(stream);
}

row_plane::row_plane(device_runtime& runtime, int device, int rank, int world_size, std::string_view kind,
                     std::unique_ptr<pipe_links> links)
    : runtime_{runtime}, device_{device}, rank_{rank}, kind_{kind}, links_{std::move(links)} {
  for (int peer = 0; peer < world_size; ++peer) {
    for (auto* pipes : {&out_, &in_}) {
      pipes->push_back(peer == rank ? nullptr : std::make_unique<pipe>());
      if (peer != rank) pipes->back()->stream = std::make_shared<shared_stream>(runtime_, device_);
    }
  }
}

row_plane::~row_plane() {
  close(std::chrono::seconds{5});
  for (auto* pipes : {&out_, &in_}) pipes->clear();  // streams go once no received rows hold them
  device_scope scope{runtime_, device_};
  links_.reset();  // after an abort, what is left on the streams ends at once
}

void row_plane::close(std::chrono::milliseconds patience) noexcept {
  if (closed_ || aborted_.load()) return;
  closed_ = true;
  try {
    device_scope scope{runtime_, device_};
    std::vector<owned_event> drained;
    for (auto* pipes : {&out_, &in_})
      for (auto& p : *pipes)
        if (p) runtime_.record(drained.emplace_back(runtime_, device_).get(), p->stream->get());
    const auto deadline = std::chrono::steady_clock::now() + patience;
    auto all_done = [&] {
      return std::all_of(drained.begin(), drained.end(), [&](const owned_event& e) { return runtime_.done(e.get()); });
    };
    while (!all_done() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::microseconds{200});
    if (all_done()) return;
    std::cerr << "gapm: node " << rank_ << ": data plane: transfers still in flight after "
              << patience.count() << " ms at the end (a peer left without them): ended\n";
  } catch (...) {  // a runtime that fails now cannot be waited for: end the transfers
  }
  abort();
}

row_plane::pipe& row_plane::pipe_to(std::vector<std::unique_ptr<pipe>>& pipes, int peer) {
  GAPM_EXPECTS(peer >= 0 && static_cast<std::size_t>(peer) < pipes.size() && pipes[static_cast<std::size_t>(peer)],
               concat("row plane: no pipe between node ", rank_, " and node ", peer));
  return *pipes[static_cast<std::size_t>(peer)];
}

std::uint64_t row_plane::send(int peer, device_buffer<std::byte> rows, std::size_t bytes, device_event ready,
                              const std::function<void(std::uint64_t)>& announce) {
  GAPM_EXPECTS(bytes <= rows.bytes(), "row plane: sending ", bytes, " bytes of a buffer of ", rows.bytes());
  pipe& p = pipe_to(out_, peer);
  std::lock_guard guard{p.mutex};
  throw_if_aborted();
  device_scope scope{runtime_, device_};
  if (ready != nullptr) runtime_.wait(p.stream->get(), ready);
  if (bytes > 0) links_->enqueue_send(peer, rows.data(), bytes, p.stream->get());
  rows.free_in_order_of(p.stream->get());  // freed once the send is done, when `rows` goes below
  const std::uint64_t transfer = p.next++;
  announce(transfer);
  return transfer;
}

received_rows row_plane::receive(int peer, std::uint64_t transfer, std::size_t bytes) {
  pipe& p = pipe_to(in_, peer);
  std::lock_guard guard{p.mutex};
  throw_if_aborted();
  if (transfer != p.next)
    throw comm_error(concat("gapm: row plane: node ", peer, " announced transfer ", transfer, " where ", p.next,
                            " was next: the pipes are out of step"));
  device_scope scope{runtime_, device_};
  device_buffer<std::byte> rows(runtime_, bytes, p.stream->get());
  if (bytes > 0) links_->enqueue_receive(peer, rows.data(), bytes, p.stream->get());
  owned_event arrived{runtime_, device_};
  runtime_.record(arrived.get(), p.stream->get());
  ++p.next;
  return received_rows{runtime_, device_, p.stream, std::move(rows), std::move(arrived)};
}

void row_plane::abort() noexcept {
  if (aborted_.exchange(true)) return;
  try {
    device_scope scope{runtime_, device_};
    links_->abort();
  } catch (...) {  // no device to switch to: the links end their transfers where they are
    links_->abort();
  }
}

void row_plane::throw_if_aborted() const {
  if (aborted_.load()) throw comm_error(concat("gapm: node ", rank_, ": the data plane was aborted (the cluster failed)"));
}

}  // namespace gapm::detail
