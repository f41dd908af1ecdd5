// ComplEx (Trouillon et al., 2016): scores, the gradients of the logistic loss with negative
// sampling, and the AdaGrad step written as an additive delta.
//
// Every entity and relation is a row of 4*dim floats in the parameter store:
//   [ real part (dim) | imaginary part (dim) | AdaGrad accumulator (2*dim) ]
// The score of (h, r, t) is Re(<h, r, conj(t)>) = sum_i Re(h_i * r_i * conj(t_i)).
#pragma once

#include <cstddef>
#include <cstdint>

namespace kge {

/// Lengths of the parts of a row.
struct row_shape {
  std::size_t dim = 0;  ///< complex dimension
  [[nodiscard]] std::size_t embedding() const noexcept { return 2 * dim; }  ///< real | imaginary
  [[nodiscard]] std::size_t row() const noexcept { return 4 * dim; }        ///< embedding | accumulator
};

/// The ComplEx score of one triple; h, r, t point at embeddings (2*dim floats each).
[[nodiscard]] float complex_score(const float* h, const float* r, const float* t, std::size_t dim) noexcept;

/// One mini-batch, as indices into a table of distinct rows ("slots"). Every positive triple
/// is scored against all `k` negatives, once as a corrupted tail (h, r, n) and once as a
/// corrupted head (n, r, t): the negatives are shared by the batch, as in PyTorch-BigGraph,
/// so a batch touches 2*n + k entity rows instead of 2*n*(k + 1).
struct batch_view {
  row_shape shape;
  const float* rows = nullptr;              ///< (slots x shape.row())
  std::size_t slots = 0;
  const std::uint32_t* heads = nullptr;     ///< (n) slot of each positive's head
  const std::uint32_t* relations = nullptr; ///< (n)
  const std::uint32_t* tails = nullptr;     ///< (n)
  std::size_t n = 0;
  const std::uint32_t* negatives = nullptr; ///< (k) slots of the negative entities
  std::size_t k = 0;
};

/// Loss and regularisation settings.
struct loss_settings {
  float l2 = 0;  ///< weight of l2 * (|h|^2 + |r|^2 + |t|^2) per positive
};

/// What a batch's loss came to.
struct batch_loss {
  double data = 0;            ///< sum over positives of the logistic loss (without regulariser)
  double regularizer = 0;     ///< sum of the l2 terms
};

/// The loss per positive is softplus(-s(h,r,t)) + 1/(2k) * sum_j [softplus(s(h,r,n_j)) +
/// softplus(s(n_j,r,t))]; a negative equal to the true tail (head) is skipped for that side.
/// Adds the gradient of the batch's loss (summed over positives) with respect to every slot's
/// embedding to `grads` (slots x shape.embedding()), which the caller zeroes.
batch_loss complex_gradients(const batch_view& batch, const loss_settings& loss, float* grads);

}  // namespace kge
