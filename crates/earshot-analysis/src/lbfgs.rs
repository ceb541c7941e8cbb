//! Limited-memory BFGS for smooth convex objectives: the full-batch optimiser of the final
//! logistic regression fits. Deterministic (no randomness, one thread), so a model is
//! reproducible byte for byte.

use std::collections::VecDeque;

/// How a minimisation ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Outcome {
    pub iterations: usize,
    pub value: f64,
}

/// Pairs of (step, gradient change) kept for the curvature estimate.
const MEMORY: usize = 10;
/// Armijo's sufficient-decrease constant.
const SUFFICIENT_DECREASE: f64 = 1e-4;

/// Minimises `objective` from `x` (updated in place). `objective(x, gradient)` returns the value
/// at `x` and writes the gradient. Stops after `max_iterations`, or when an iteration lowers the
/// value by less than `relative_tolerance` of it, or when no step along the search direction
/// lowers it any more.
pub(crate) fn minimize<F>(
    x: &mut Vec<f64>,
    mut objective: F,
    max_iterations: usize,
    relative_tolerance: f64,
) -> Outcome
where
    F: FnMut(&[f64], &mut [f64]) -> f64,
{
    let n = x.len();
    let mut gradient = vec![0.0; n];
    let mut value = objective(x, &mut gradient);
    let mut history: VecDeque<(Vec<f64>, Vec<f64>, f64)> = VecDeque::with_capacity(MEMORY);
    let mut direction = vec![0.0; n];
    let mut x_next = vec![0.0; n];
    let mut gradient_next = vec![0.0; n];
    let mut alphas = [0.0; MEMORY];
    let mut iterations = 0;
    while iterations < max_iterations {
        let gradient_norm = dot(&gradient, &gradient).sqrt();
        if gradient_norm == 0.0 || !gradient_norm.is_finite() {
            break;
        }
        // Two-loop recursion: direction = -H·gradient with H the L-BFGS inverse Hessian.
        direction.copy_from_slice(&gradient);
        for (k, (s, y, rho)) in history.iter().enumerate().rev() {
            let alpha = rho * dot(s, &direction);
            alphas[k] = alpha;
            axpy(-alpha, y, &mut direction);
        }
        let gamma = match history.back() {
            Some((s, y, _)) => dot(s, y) / dot(y, y),
            None => 1.0 / gradient_norm,
        };
        scale(gamma, &mut direction);
        for (k, (s, y, rho)) in history.iter().enumerate() {
            let beta = rho * dot(y, &direction);
            axpy(alphas[k] - beta, s, &mut direction);
        }
        scale(-1.0, &mut direction);
        let mut slope = dot(&direction, &gradient);
        if slope >= 0.0 {
            // Not a descent direction (rounding): restart from steepest descent.
            history.clear();
            direction.copy_from_slice(&gradient);
            scale(-1.0 / gradient_norm, &mut direction);
            slope = -gradient_norm;
        }

        // Backtracking until the value drops enough.
        let mut step = 1.0;
        let value_next = loop {
            for ((next, &xi), &d) in x_next.iter_mut().zip(x.iter()).zip(&direction) {
                *next = xi + step * d;
            }
            let candidate = objective(&x_next, &mut gradient_next);
            if candidate <= value + SUFFICIENT_DECREASE * step * slope {
                break Some(candidate);
            }
            step *= 0.5;
            if step < 1e-12 {
                break None;
            }
        };
        let Some(value_next) = value_next else {
            break;
        };
        iterations += 1;

        let s: Vec<f64> = x_next.iter().zip(x.iter()).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = gradient_next
            .iter()
            .zip(&gradient)
            .map(|(a, b)| a - b)
            .collect();
        let sy = dot(&s, &y);
        if sy > 1e-12 {
            if history.len() == MEMORY {
                history.pop_front();
            }
            history.push_back((s, y, 1.0 / sy));
        }
        std::mem::swap(x, &mut x_next);
        std::mem::swap(&mut gradient, &mut gradient_next);
        let decrease = value - value_next;
        value = value_next;
        if decrease <= relative_tolerance * value.abs().max(1.0) {
            break;
        }
    }
    Outcome { iterations, value }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

fn scale(a: f64, x: &mut [f64]) {
    for xi in x {
        *xi *= a;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_minimum_of_an_ill_conditioned_quadratic() {
        // f(x) = Σ k·(x_k - k)², minimum at x_k = k, curvatures 1..=20.
        let objective = |x: &[f64], g: &mut [f64]| {
            let mut f = 0.0;
            for (k, (&xi, gi)) in x.iter().zip(g.iter_mut()).enumerate() {
                let c = (k + 1) as f64;
                f += c * (xi - c).powi(2);
                *gi = 2.0 * c * (xi - c);
            }
            f
        };
        let mut x = vec![0.0; 20];
        let outcome = minimize(&mut x, objective, 200, 1e-15);
        for (k, xi) in x.iter().enumerate() {
            assert!((xi - (k + 1) as f64).abs() < 1e-4, "x[{k}] = {xi}");
        }
        assert!(outcome.value < 1e-8, "{outcome:?}");
        assert!(outcome.iterations > 1);
    }

    #[test]
    fn minimises_the_rosenbrock_function() {
        let objective = |x: &[f64], g: &mut [f64]| {
            let (a, b) = (x[0], x[1]);
            g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
            g[1] = 200.0 * (b - a * a);
            (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
        };
        let mut x = vec![-1.2, 1.0];
        minimize(&mut x, objective, 500, 0.0);
        assert!(
            (x[0] - 1.0).abs() < 1e-3 && (x[1] - 1.0).abs() < 1e-3,
            "{x:?}"
        );
    }

    #[test]
    fn stops_at_the_iteration_limit() {
        let objective = |x: &[f64], g: &mut [f64]| {
            g[0] = 2.0 * (x[0] - 3.0);
            (x[0] - 3.0).powi(2)
        };
        let mut x = vec![0.0];
        let outcome = minimize(&mut x, objective, 0, 0.0);
        assert_eq!(outcome.iterations, 0);
        assert_eq!(x, vec![0.0]);
    }
}
