// ComplEx scores and gradients, and AdaGrad deltas (see complex_model.hpp).
//
// Notation for one triple, per complex coordinate: h = a + bi, r = c + di, t = e + fi.
//   s(h, r, t) = sum a*c*e - b*d*e + a*d*f + b*c*f
// The tail query q = h*r (q_re = ac - bd, q_im = ad + bc) gives s = <q, t> for every tail, and
// the head query p (p_re = ce + df, p_im = cf - de) gives s = <h, p> for every head: scoring
// k negatives is k dot products of length 2*dim.
#include "complex_model.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace kge {
namespace {

// Eight partial sums, so that the compiler vectorises the reduction without -ffast-math.
float dot(const float* x, const float* y, std::size_t n) noexcept {
  float partial[8] = {};
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (std::size_t j = 0; j < 8; ++j) partial[j] += x[i + j] * y[i + j];
  float sum = 0;
  for (; i < n; ++i) sum += x[i] * y[i];
  for (float p : partial) sum += p;
  return sum;
}

void axpy(float alpha, const float* x, float* y, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

double softplus(double x) noexcept { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }
float sigmoid(float x) noexcept { return 1.0f / (1.0f + std::exp(-x)); }

}  // namespace

float complex_score(const float* h, const float* r, const float* t, std::size_t dim) noexcept {
  float s = 0;
  for (std::size_t i = 0; i < dim; ++i) {
    const float a = h[i], b = h[dim + i], c = r[i], d = r[dim + i], e = t[i], f = t[dim + i];
    s += a * c * e - b * d * e + a * d * f + b * c * f;
  }
  return s;
}

batch_loss complex_gradients(const batch_view& batch, const loss_settings& loss, float* grads) {
  const std::size_t dim = batch.shape.dim;
  const std::size_t emb = batch.shape.embedding();
  const std::size_t row = batch.shape.row();
  auto embedding = [&](std::uint32_t slot) { return batch.rows + slot * row; };
  auto gradient = [&](std::uint32_t slot) { return grads + slot * emb; };
  const float weight = batch.k == 0 ? 0.0f : 1.0f / static_cast<float>(2 * batch.k);

  std::vector<float> scratch(4 * emb);
  float* q = scratch.data();       // tail query h*r
  float* p = q + emb;              // head query
  float* gq = p + emb;             // d loss / d q
  float* gp = gq + emb;            // d loss / d p
  batch_loss total;
  for (std::size_t i = 0; i < batch.n; ++i) {
    const float* h = embedding(batch.heads[i]);
    const float* r = embedding(batch.relations[i]);
    const float* t = embedding(batch.tails[i]);
    for (std::size_t j = 0; j < dim; ++j) {
      const float a = h[j], b = h[dim + j], c = r[j], d = r[dim + j], e = t[j], f = t[dim + j];
      q[j] = a * c - b * d;
      q[dim + j] = a * d + b * c;
      p[j] = c * e + d * f;
      p[dim + j] = c * f - d * e;
    }
    std::fill(gq, gq + 2 * emb, 0.0f);  // gq and gp

    // The positive: loss softplus(-s), d/ds = sigmoid(s) - 1.
    const float s = dot(q, t, emb);
    total.data += softplus(-static_cast<double>(s));
    const float positive = sigmoid(s) - 1.0f;
    axpy(positive, t, gq, emb);
    axpy(positive, q, gradient(batch.tails[i]), emb);

    // The negatives, as corrupted tails and as corrupted heads: loss w*softplus(s), d/ds = w*sigmoid(s).
    for (std::size_t j = 0; j < batch.k; ++j) {
      const std::uint32_t slot = batch.negatives[j];
      const float* n = embedding(slot);
      float* gn = gradient(slot);
      if (slot != batch.tails[i]) {
        const float st = dot(q, n, emb);
        total.data += weight * softplus(st);
        const float coef = weight * sigmoid(st);
        axpy(coef, n, gq, emb);
        axpy(coef, q, gn, emb);
      }
      if (slot != batch.heads[i]) {
        const float sh = dot(p, n, emb);
        total.data += weight * softplus(sh);
        const float coef = weight * sigmoid(sh);
        axpy(coef, n, gp, emb);
        axpy(coef, p, gn, emb);
      }
    }

    // Back through q = h*r and p = r*conj(t), plus the l2 regulariser.
    float* gh = gradient(batch.heads[i]);
    float* gr = gradient(batch.relations[i]);
    float* gt = gradient(batch.tails[i]);
    const float l2 = 2 * loss.l2;
    for (std::size_t j = 0; j < dim; ++j) {
      const float a = h[j], b = h[dim + j], c = r[j], d = r[dim + j], e = t[j], f = t[dim + j];
      const float q_re = gq[j], q_im = gq[dim + j], p_re = gp[j], p_im = gp[dim + j];
      gh[j] += c * q_re + d * q_im + l2 * a;
      gh[dim + j] += -d * q_re + c * q_im + l2 * b;
      gr[j] += a * q_re + b * q_im + e * p_re + f * p_im + l2 * c;
      gr[dim + j] += -b * q_re + a * q_im + f * p_re - e * p_im + l2 * d;
      gt[j] += c * p_re - d * p_im + l2 * e;
      gt[dim + j] += d * p_re + c * p_im + l2 * f;
    }
    total.regularizer += loss.l2 * (dot(h, h, emb) + dot(r, r, emb) + dot(t, t, emb));
  }
  return total;
}

}  // namespace kge
