// The type-erased face of gapm::Node<T> and gapm::Worker<T> for the Python binding.
//
// Python picks the value type at run time (gapm.Node(dtype=torch.float32)), the C++ API at
// compile time. node_api and worker_api are the small virtual interfaces in between: values
// travel as untyped pointers whose element type the binding has already checked against
// value_type(). This layer knows neither Python nor torch, so it compiles quickly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <gapm/gapm.hpp>

namespace gapm::python {

/// The value types a node can hold.
enum class value_kind { float32, float64, int64 };

/// "float32", "float64" or "int64".
[[nodiscard]] const char* value_kind_name(value_kind kind) noexcept;
[[nodiscard]] std::size_t value_kind_size(value_kind kind) noexcept;

/// One worker of a node of any value type. The value pointers point to elements of the
/// node's value type. A default stream_view means a blocking call (Worker::pull/push); any
/// other stream means the stream-ordered twin (Worker::pull_async/push_async).
class worker_api {
 public:
  virtual ~worker_api() = default;
  [[nodiscard]] virtual int id() const noexcept = 0;
  virtual Ticket pull(const key_type* keys, std::size_t n, void* out, stream_view stream) = 0;
  virtual Ticket push(const key_type* keys, std::size_t n, const void* deltas, stream_view stream) = 0;
  virtual Ticket set(const key_type* keys, std::size_t n, const void* values) = 0;
  virtual Ticket apply_step(const key_type* keys, std::size_t n, const void* grads, const optimizer_step& step,
                            stream_view stream) = 0;
  virtual void intent(const key_type* keys, std::size_t n, clock_type start, clock_type end) = 0;
  virtual void advance_clock() = 0;
  [[nodiscard]] virtual clock_type clock() const noexcept = 0;
  virtual SampleId prepare_sample(std::size_t k, clock_type start, clock_type end) = 0;
  virtual Ticket pull_sample(SampleId id, key_type* keys_out, std::size_t n, void* values_out) = 0;
  virtual void finish_sample(SampleId id) = 0;
  virtual void wait(Ticket ticket) = 0;
  [[nodiscard]] virtual bool is_finished(Ticket ticket) = 0;
  virtual void wait_all() = 0;
  virtual void wait_sync() = 0;
  virtual void barrier() = 0;
  virtual void finalize() = 0;
};

/// One node of any value type. Workers made by make_worker() must be destroyed before it.
class node_api {
 public:
  virtual ~node_api() = default;
  [[nodiscard]] virtual value_kind kind() const noexcept = 0;
  [[nodiscard]] virtual int rank() const noexcept = 0;
  [[nodiscard]] virtual int world_size() const noexcept = 0;
  [[nodiscard]] virtual const Options& options() const noexcept = 0;
  [[nodiscard]] virtual std::string store_name() const = 0;
  virtual void barrier() = 0;
  virtual void shutdown() = 0;
  virtual void set_sampler(std::function<key_type()> sample_key) = 0;
  [[nodiscard]] virtual Stats stats() const = 0;
  virtual void save(const std::string& path) = 0;
  virtual void load(const std::string& path) = 0;
  /// Registers worker `id` (Worker<T>(node, id)); throws logic_error as that constructor does.
  [[nodiscard]] virtual std::unique_ptr<worker_api> make_worker(int id) = 0;
};

/// Joins the cluster as a Node<T> of the given value type (blocks for the rendezvous).
[[nodiscard]] std::unique_ptr<node_api> make_node_api(const Options& options, value_kind kind);

}  // namespace gapm::python
