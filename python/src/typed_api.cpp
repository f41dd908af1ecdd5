// node_api and worker_api over gapm::Node<T> and gapm::Worker<T> for T = float, double, int64_t.
#include "typed_api.hpp"

#include <utility>

namespace gapm::python {
namespace {

template <class T>
class typed_worker final : public worker_api {
 public:
  typed_worker(Node<T>& node, int id) : worker_{node, id} {}

  [[nodiscard]] int id() const noexcept override { return worker_.id(); }

  Ticket pull(const key_type* keys, std::size_t n, void* out, stream_view stream) override {
    T* rows = static_cast<T*>(out);
    return stream.is_default() ? worker_.pull(keys, n, rows) : worker_.pull_async(keys, n, rows, stream);
  }
  Ticket push(const key_type* keys, std::size_t n, const void* deltas, stream_view stream) override {
    const T* rows = static_cast<const T*>(deltas);
    return stream.is_default() ? worker_.push(keys, n, rows) : worker_.push_async(keys, n, rows, stream);
  }
  Ticket set(const key_type* keys, std::size_t n, const void* values) override {
    return worker_.set(keys, n, static_cast<const T*>(values));
  }
  Ticket apply_step(const key_type* keys, std::size_t n, const void* grads, const optimizer_step& step,
                    stream_view stream) override {
    const T* g = static_cast<const T*>(grads);
    return stream.is_default() ? worker_.apply_step(keys, n, g, step) : worker_.apply_step_async(keys, n, g, step, stream);
  }
  void intent(const key_type* keys, std::size_t n, clock_type start, clock_type end) override {
    worker_.intent(keys, n, start, end);
  }
  void advance_clock() override { worker_.advance_clock(); }
  [[nodiscard]] clock_type clock() const noexcept override { return worker_.clock(); }
  SampleId prepare_sample(std::size_t k, clock_type start, clock_type end) override {
    return worker_.prepare_sample(k, start, end);
  }
  Ticket pull_sample(SampleId id, key_type* keys_out, std::size_t n, void* values_out) override {
    return worker_.pull_sample(id, keys_out, n, static_cast<T*>(values_out));
  }
  void finish_sample(SampleId id) override { worker_.finish_sample(id); }
  void wait(Ticket ticket) override { worker_.wait(ticket); }
  [[nodiscard]] bool is_finished(Ticket ticket) override { return worker_.is_finished(ticket); }
  void wait_all() override { worker_.wait_all(); }
  void wait_sync() override { worker_.wait_sync(); }
  void barrier() override { worker_.barrier(); }
  void finalize() override { worker_.finalize(); }

 private:
  Worker<T> worker_;
};

template <class T>
class typed_node final : public node_api {
 public:
  typed_node(const Options& options, value_kind kind) : node_{options}, kind_{kind} {}

  [[nodiscard]] value_kind kind() const noexcept override { return kind_; }
  [[nodiscard]] int rank() const noexcept override { return node_.rank(); }
  [[nodiscard]] int world_size() const noexcept override { return node_.world_size(); }
  [[nodiscard]] const Options& options() const noexcept override { return node_.options(); }
  [[nodiscard]] std::string store_name() const override { return node_.store_name(); }
  void barrier() override { node_.barrier(); }
  void shutdown() override { node_.shutdown(); }
  void set_sampler(std::function<key_type()> sample_key) override { node_.set_sampler(std::move(sample_key)); }
  [[nodiscard]] Stats stats() const override { return node_.stats(); }
  void save(const std::string& path) override { node_.save(path); }
  void load(const std::string& path) override { node_.load(path); }
  [[nodiscard]] std::unique_ptr<worker_api> make_worker(int id) override {
    return std::make_unique<typed_worker<T>>(node_, id);
  }

 private:
  Node<T> node_;
  value_kind kind_;
};

}  // namespace

const char* value_kind_name(value_kind kind) noexcept {
  switch (kind) {
    case value_kind::float32: return "float32";
    case value_kind::float64: return "float64";
    case value_kind::int64: return "int64";
  }
  return "?";
}

std::size_t value_kind_size(value_kind kind) noexcept {
  switch (kind) {
    case value_kind::float32: return sizeof(float);
    case value_kind::float64: return sizeof(double);
    case value_kind::int64: return sizeof(std::int64_t);
  }
  return 0;
}

std::unique_ptr<node_api> make_node_api(const Options& options, value_kind kind) {
  switch (kind) {
    case value_kind::float32: return std::make_unique<typed_node<float>>(options, kind);
    case value_kind::float64: return std::make_unique<typed_node<double>>(options, kind);
    case value_kind::int64: return std::make_unique<typed_node<std::int64_t>>(options, kind);
  }
  throw logic_error("gapm: unknown value type");
}

}  // namespace gapm::python
