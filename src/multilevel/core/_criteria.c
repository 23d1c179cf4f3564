/* The compiled inner loop of the profiled objective (small models, one grouping factor).
 *
 * Two criteria theta -> ML deviance or REML criterion, the same arithmetic as numpy's paths
 * (to rounding), with no Python object touched inside an evaluation:
 *
 * - DenseCriterion: a small model's whole system (multilevel.core.dense_small)
 *       S(theta) = [[Lambda' Z'Z Lambda + I, Lambda' Z'[X y]], [., [X y]'[X y]]]
 *   of order m = q + p + 1 (at most a few dozen), a quadratic form in theta with constant
 *   matrices, S = coef(theta) @ K, coef = (1, theta, theta_a theta_b for a <= b): S's upper
 *   triangle from K's nonzeros, then one Cholesky factorisation.
 * - BlockCriterion: the first grouping factor's levels eliminated one by one
 *   (multilevel.core.single_term), then the rest [Z_rest X y] factored densely (the other
 *   terms' factor applied to it, as multilevel.core.schur_small does).
 *
 * Either runs whole BOBYQA runs through NLopt's C interface (the library the nlopt package
 * already loaded), so the optimiser never calls back into Python. Loaded by
 * multilevel.core.native; without it the numpy paths run.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- NLopt's C interface, looked up in the library the nlopt package loaded ------------- */

typedef struct nlopt_opt_s *nlopt_opt;
typedef double (*nlopt_func)(unsigned n, const double *x, double *gradient, void *data);

static struct {
    nlopt_opt (*create)(int algorithm, unsigned n);
    void (*destroy)(nlopt_opt opt);
    int (*optimize)(nlopt_opt opt, double *x, double *opt_f);
    int (*set_min_objective)(nlopt_opt opt, nlopt_func f, void *data);
    int (*set_lower_bounds)(nlopt_opt opt, const double *lb);
    int (*set_xtol_abs1)(nlopt_opt opt, double tol);
    int (*set_ftol_abs)(nlopt_opt opt, double tol);
    int (*set_maxeval)(nlopt_opt opt, int maxeval);
    int (*set_initial_step)(nlopt_opt opt, const double *dx);
    int (*get_numevals)(nlopt_opt opt);
    int ready;
} NL;

static PyObject *
load_nlopt(PyObject *module, PyObject *arg)
{
    const char *path = PyUnicode_AsUTF8(arg);
    if (path == NULL)
        return NULL;
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL)
        Py_RETURN_FALSE;
#define LOOK(field, name)                                   \
    *(void **)(&NL.field) = dlsym(lib, name);               \
    if (NL.field == NULL) { NL.ready = 0; Py_RETURN_FALSE; }
    LOOK(create, "nlopt_create")
    LOOK(destroy, "nlopt_destroy")
    LOOK(optimize, "nlopt_optimize")
    LOOK(set_min_objective, "nlopt_set_min_objective")
    LOOK(set_lower_bounds, "nlopt_set_lower_bounds")
    LOOK(set_xtol_abs1, "nlopt_set_xtol_abs1")
    LOOK(set_ftol_abs, "nlopt_set_ftol_abs")
    LOOK(set_maxeval, "nlopt_set_maxeval")
    LOOK(set_initial_step, "nlopt_set_initial_step")
    LOOK(get_numevals, "nlopt_get_numevals")
#undef LOOK
    NL.ready = 1;  /* the handle stays open: the nlopt package holds the library anyway */
    Py_RETURN_TRUE;
}

/* ---- What every compiled criterion shares ------------------------------------------------ */

typedef struct Criterion Criterion;
struct Criterion {
    PyObject_HEAD
    double (*eval)(Criterion *self, const double *x);  /* the criterion, or bad */
    int n_theta, p, reml;
    double n_obs, log_det_w, bad, log2pi;
    double *best_x;        /* the best point of the last minimize() */
    double best_f;
};

/* A sum of logarithms as one logarithm of a product: the factors multiplied, with the binary
 * exponent split off (frexp) only when the product or a factor leaves [1e-150, 1e150], so
 * that a product of thousands of factors neither overflows nor costs a log each. For
 * positive factors (a NaN factor makes the result NaN). */
typedef struct {
    double mant;
    long expo;
} LogProd;

static inline void
logprod_mul(LogProd *lp, double v)
{
    int k;
    if (v > 1e150 || v < 1e-150) {
        v = frexp(v, &k);
        lp->expo += k;
    }
    lp->mant *= v;
    if (lp->mant > 1e150 || lp->mant < 1e-150) {
        lp->mant = frexp(lp->mant, &k);
        lp->expo += k;
    }
}

static inline double
logprod_log(const LogProd *lp)
{
    return log(lp->mant) + (double)lp->expo * M_LN2;
}

/* The ML deviance or REML criterion from log|L_Z|^2 and the factor U (upper, row-major,
 * leading dimension ld_u) of the [X y] block, whose first p pivots are R_X's and last is r. */
static double
finish(const Criterion *self, double logdet_z, const double *U, int ld_u)
{
    const int p = self->p;
    const double ld = logdet_z - self->log_det_w;
    const double r = U[(size_t)p * (ld_u + 1)];
    const double r2 = r * r;
    if (self->reml) {
        const double dof = self->n_obs - p;
        double ldx = 0.0;
        for (int i = 0; i < p; i++)
            ldx += log(U[(size_t)i * (ld_u + 1)]);
        return ld + 2.0 * ldx + dof * (1.0 + self->log2pi + log(r2 / dof));
    }
    return ld + self->n_obs * (1.0 + self->log2pi + log(r2 / self->n_obs));
}

/* Cholesky A = U'U in place on the upper triangle of the n x n row-major A (leading
 * dimension lda), right-looking by rows of U: each step updates the rows below by contiguous
 * multiply-adds and skips a row whose multiplier is an exact zero (zeros stay zeros). Returns
 * 0, or -1 at a pivot that is not positive (or NaN). */
static int
cholesky_upper(double *A, int n, int lda)
{
    for (int k = 0; k < n; k++) {
        double *Uk = A + (size_t)k * lda;
        const double d = Uk[k];
        if (!(d > 0.0))
            return -1;
        const double r = sqrt(d), inv = 1.0 / r;
        Uk[k] = r;
        for (int j = k + 1; j < n; j++)
            Uk[j] *= inv;
        for (int i = k + 1; i < n; i++) {
            const double a = Uk[i];
            if (a == 0.0)
                continue;
            double *restrict Ui = A + (size_t)i * lda;
            const double *restrict Ukr = Uk;
            for (int j = i; j < n; j++)
                Ui[j] -= a * Ukr[j];
        }
    }
    return 0;
}

static void
init_base(Criterion *self, int n_theta, int p, double n_obs, int reml, double log_det_w,
          double bad)
{
    self->n_theta = n_theta;
    self->p = p;
    self->reml = reml;
    self->n_obs = n_obs;
    self->log_det_w = log_det_w;
    self->bad = bad;
    self->log2pi = log(2.0 * M_PI);
    self->best_f = HUGE_VAL;
}

/* ---- The dense system of a small model ------------------------------------------------------ */

typedef struct {
    Criterion base;
    int n_pairs, n_coef, m, q;
    int *ia, *ib;          /* theta pairs a <= b of the quadratic coefficients */
    int *start;            /* per upper-triangle entry (row-major), its run in k/val */
    int *k;                /* coefficient index of each nonzero of K */
    double *val;           /* the nonzero itself */
    double *coef, *S;      /* workspace: coefficients, S and then U = L' (row-major, upper) */
} DenseCriterion;

/* The criterion at x, or bad where S is not positive definite. */
static double
dense_eval(Criterion *base, const double *x)
{
    DenseCriterion *self = (DenseCriterion *)base;
    const int n = base->n_theta, m = self->m, q = self->q;
    double *coef = self->coef, *S = self->S;
    coef[0] = 1.0;
    for (int a = 0; a < n; a++)
        coef[1 + a] = x[a];
    for (int t = 0; t < self->n_pairs; t++)
        coef[1 + n + t] = x[self->ia[t]] * x[self->ib[t]];
    /* S's upper triangle, row-major (S is symmetric: the same numbers as the lower one) */
    const int *start = self->start, *kk = self->k;
    const double *val = self->val;
    int e = 0;
    for (int i = 0; i < m; i++) {
        double *Si = S + (size_t)i * m;
        for (int j = i; j < m; j++, e++) {
            double s = 0.0;
            for (int t = start[e]; t < start[e + 1]; t++)
                s += coef[kk[t]] * val[t];
            Si[j] = s;
        }
    }
    if (cholesky_upper(S, m, m) < 0)
        return base->bad;
    LogProd lp = {1.0, 0};
    for (int i = 0; i < q; i++)
        logprod_mul(&lp, S[(size_t)i * (m + 1)]);
    return finish(base, 2.0 * logprod_log(&lp), S + (size_t)q * (m + 1), m);
}

static void
free_dense(DenseCriterion *self)
{
    free(self->ia); free(self->ib); free(self->start); free(self->k); free(self->val);
    free(self->coef); free(self->S); free(self->base.best_x);
    self->ia = self->ib = self->start = self->k = NULL;
    self->val = self->coef = self->S = self->base.best_x = NULL;
    self->base.eval = NULL;
}

static void
DenseCriterion_dealloc(DenseCriterion *self)
{
    free_dense(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Whether a buffer holds 8-byte items of the given kind ('d' doubles, 'i' integers). */
static int
holds(const Py_buffer *view, char kind)
{
    const char *f = view->format ? view->format : "B";
    if (*f == '<' || *f == '=' || *f == '@')
        f++;
    return view->itemsize == 8 &&
           (kind == 'd' ? strcmp(f, "d") == 0 : (strcmp(f, "l") == 0 || strcmp(f, "q") == 0));
}

/* A C-contiguous buffer of 8-byte items of the given kind ('d' doubles, 'i' integers). */
static int
get_buffer(PyObject *obj, Py_buffer *view, char kind, int writable, const char *what)
{
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0)
        return -1;
    if (!holds(view, kind)) {
        PyErr_Format(PyExc_TypeError, "%s: expected a contiguous array of %s", what,
                     kind == 'd' ? "float64" : "int64");
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static int
DenseCriterion_init(DenseCriterion *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"K", "ia", "ib", "m", "q", "p", "n_obs", "reml", "log_det_w",
                             "bad", NULL};
    PyObject *Ko, *iao, *ibo;
    int m, q, p, reml;
    double n_obs, log_det_w, bad;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOiiidpdd", kwlist, &Ko, &iao, &ibo, &m,
                                     &q, &p, &n_obs, &reml, &log_det_w, &bad))
        return -1;
    free_dense(self);  /* a second __init__ starts afresh */
    Py_buffer K, ia, ib;
    if (get_buffer(Ko, &K, 'd', 0, "K") < 0)
        return -1;
    if (get_buffer(iao, &ia, 'i', 0, "ia") < 0) {
        PyBuffer_Release(&K);
        return -1;
    }
    if (get_buffer(ibo, &ib, 'i', 0, "ib") < 0) {
        PyBuffer_Release(&K);
        PyBuffer_Release(&ia);
        return -1;
    }
    int rc = -1;
    Py_ssize_t n_pairs = ia.len / 8;
    if (m < 1 || q < 0 || p < 0 || q + p + 1 != m || ib.len != ia.len || K.ndim != 2 ||
        K.shape[1] != (Py_ssize_t)m * m) {
        PyErr_SetString(PyExc_ValueError, "DenseCriterion: inconsistent shapes");
        goto done;
    }
    Py_ssize_t n_coef = K.shape[0];
    /* n_coef = 1 + n + n (n + 1) / 2 with n_pairs = n (n + 1) / 2 */
    Py_ssize_t n = n_coef - 1 - n_pairs;
    if (n < 1 || n * (n + 1) / 2 != n_pairs) {
        PyErr_SetString(PyExc_ValueError, "DenseCriterion: K does not match the theta pairs");
        goto done;
    }
    init_base(&self->base, (int)n, p, n_obs, reml, log_det_w, bad);
    self->n_pairs = (int)n_pairs;
    self->n_coef = (int)n_coef;
    self->m = m;
    self->q = q;
    const double *Kd = (const double *)K.buf;
    const int64_t *iad = (const int64_t *)ia.buf, *ibd = (const int64_t *)ib.buf;
    size_t n_upper = (size_t)m * (m + 1) / 2, nnz = 0;
    for (int i = 0; i < m; i++)
        for (int j = i; j < m; j++)
            for (Py_ssize_t c = 0; c < n_coef; c++)
                nnz += Kd[c * m * m + (size_t)i * m + j] != 0.0;
    self->ia = malloc(sizeof(int) * (n_pairs + 1));
    self->ib = malloc(sizeof(int) * (n_pairs + 1));
    self->start = malloc(sizeof(int) * (n_upper + 1));
    self->k = malloc(sizeof(int) * (nnz + 1));
    self->val = malloc(sizeof(double) * (nnz + 1));
    self->coef = malloc(sizeof(double) * n_coef);
    self->S = calloc((size_t)m * m, sizeof(double));
    self->base.best_x = malloc(sizeof(double) * n);
    if (!self->ia || !self->ib || !self->start || !self->k || !self->val || !self->coef ||
        !self->S || !self->base.best_x) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t t = 0; t < n_pairs; t++) {
        if (iad[t] < 0 || iad[t] >= n || ibd[t] < 0 || ibd[t] >= n) {
            PyErr_SetString(PyExc_ValueError, "DenseCriterion: theta pair out of range");
            goto done;
        }
        self->ia[t] = (int)iad[t];
        self->ib[t] = (int)ibd[t];
    }
    size_t e = 0, z = 0;
    for (int i = 0; i < m; i++)
        for (int j = i; j < m; j++, e++) {
            self->start[e] = (int)z;
            for (Py_ssize_t c = 0; c < n_coef; c++) {
                double v = Kd[c * m * m + (size_t)i * m + j];
                if (v != 0.0) {
                    self->k[z] = (int)c;
                    self->val[z++] = v;
                }
            }
        }
    self->start[e] = (int)z;
    self->base.eval = dense_eval;
    rc = 0;
done:
    if (rc < 0)
        free_dense(self);
    PyBuffer_Release(&K);
    PyBuffer_Release(&ia);
    PyBuffer_Release(&ib);
    return rc;
}

/* ---- One grouping factor: every level eliminated on its own ----------------------------- */

typedef struct {
    Criterion base;
    int n_levels, pz, r;   /* first term's levels and effects per level; order of the rest */
    int n_first, q_rest;   /* first term's thetas; random effects of the other terms */
    int n_rest;            /* nonzeros of the other terms' Lambda */
    int *trow, *tcol;      /* theta[a] sits at T[trow[a], tcol[a]] (T lower triangular) */
    int *rrow, *rcol, *rt; /* Lambda_rest[rrow[e], rcol[e]] = theta[rt[e]] */
    double *D;             /* per level Z_l'Z_l (pz x pz) */
    double *det_d;         /* per level det(Z_l'Z_l) (pz = 2) */
    double *F;             /* per level Z_l'[Z_rest X y] (pz x r) */
    double *xy;            /* [Z_rest X y]'[Z_rest X y] (r x r) */
    double *G, *H;         /* workspace: the Schur complement and the rest's system */
    double *T, *M, *W;     /* workspace: T, T'D_l T + I and its factor, L_l^{-1} T'F_l */
} BlockCriterion;

/* The first term's levels eliminated one by one: log|L_1|^2 = sum_l log det(T'D_l T + I)
 * and G = C_rr - sum_l W_l'W_l with W_l = L_l^{-1} T'F_l, L_l L_l' = T'D_l T + I, C_rr the
 * cross-products of the rest [Z_rest X y]. With no other term G is the [X y] block; else the
 * rest's system is Lambda_r' G Lambda_r + I on Z_rest (Lambda_r = the other terms' factor, I
 * on [X y]), factored densely. Then the criterion. */
static double
block_eval(Criterion *base, const double *x)
{
    BlockCriterion *self = (BlockCriterion *)base;
    const int P = self->pz, r = self->r, nl = self->n_levels;
    double *T = self->T, *M = self->M, *W = self->W, *G = self->G;
    memset(T, 0, sizeof(double) * P * P);
    for (int a = 0; a < self->n_first; a++)
        T[self->trow[a] * P + self->tcol[a]] = x[a];
    memcpy(G, self->xy, sizeof(double) * r * r);
    /* Sigma = T T' for one or two effects: s00, s01, s11 and det Sigma */
    const double t0 = T[0], t1 = P > 1 ? T[P] : 0.0, t2 = P > 1 ? T[P + 1] : 0.0;
    const double s00 = t0 * t0, s01 = t0 * t1, s11 = t1 * t1 + t2 * t2;
    const double det_s = (t0 * t2) * (t0 * t2);
    LogProd lp = {1.0, 0};
    for (int l = 0; l < nl; l++) {
        const double *D = self->D + (size_t)l * P * P, *F = self->F + (size_t)l * P * r;
        if (P == 1) {  /* E = 1 + s d, Q = s / E (s = t^2) */
            const double e = 1.0 + s00 * D[0];
            if (!(e > 0.0))  /* NaN theta */
                return base->bad;
            logprod_mul(&lp, e);
            const double q = s00 / e;
            for (int i = 0; i < r; i++) {  /* G -= F' Q F, upper triangle */
                const double y = q * F[i];
                if (y == 0.0)
                    continue;
                double *restrict Gi = G + (size_t)i * r;
                for (int j = i; j < r; j++)
                    Gi[j] -= y * F[j];
            }
            continue;
        }
        if (P == 2) {
            /* E = det(I + D Sigma) = 1 + tr(D Sigma) + det D det Sigma (a sum of nonnegative
             * terms) and Q = T (T'D T + I)^{-1} T' = (Sigma + det Sigma adj D) / E */
            const double d00 = D[0], d01 = D[1], d11 = D[3], det_d = self->det_d[l];
            const double e = 1.0 + d00 * s00 + 2.0 * d01 * s01 + d11 * s11 + det_d * det_s;
            if (!(e > 0.0))
                return base->bad;
            logprod_mul(&lp, e);
            const double inv = 1.0 / e;
            const double q00 = (s00 + det_s * d11) * inv, q01 = (s01 - det_s * d01) * inv;
            const double q11 = (s11 + det_s * d00) * inv;
            const double *F0 = F, *F1 = F + r;
            for (int i = 0; i < r; i++) {  /* G -= F' Q F, upper triangle */
                const double y0 = q00 * F0[i] + q01 * F1[i], y1 = q01 * F0[i] + q11 * F1[i];
                if (y0 == 0.0 && y1 == 0.0)
                    continue;
                double *restrict Gi = G + (size_t)i * r;
                for (int j = i; j < r; j++)
                    Gi[j] -= y0 * F0[j] + y1 * F1[j];
            }
            continue;
        }
        {
            /* M = T'D T + I, lower triangle (row-major P x P) */
            for (int i = 0; i < P; i++)
                for (int j = 0; j <= i; j++) {
                    double s = i == j ? 1.0 : 0.0;
                    for (int a = i; a < P; a++) {      /* T[a][i], T lower: a >= i */
                        double da = 0.0;
                        for (int b = j; b < P; b++)
                            da += D[a * P + b] * T[b * P + j];
                        s += T[a * P + i] * da;
                    }
                    M[i * P + j] = s;
                }
            /* M = L L' (lower), log det */
            for (int j = 0; j < P; j++) {
                double d = M[j * P + j];
                for (int t = 0; t < j; t++)
                    d -= M[j * P + t] * M[j * P + t];
                if (!(d > 0.0))
                    return base->bad;
                const double lj = sqrt(d);
                M[j * P + j] = lj;
                logprod_mul(&lp, d);
                for (int i = j + 1; i < P; i++) {
                    double s = M[i * P + j];
                    for (int t = 0; t < j; t++)
                        s -= M[i * P + t] * M[j * P + t];
                    M[i * P + j] = s / lj;
                }
            }
            /* W = L^{-1} T'F (P x r): V = T'F, then forward substitution by rows */
            for (int i = 0; i < P; i++) {
                double *Wi = W + (size_t)i * r;
                for (int j = 0; j < r; j++)
                    Wi[j] = 0.0;
                for (int a = i; a < P; a++) {
                    const double t = T[a * P + i];
                    if (t == 0.0)
                        continue;
                    for (int j = 0; j < r; j++)
                        Wi[j] += t * F[(size_t)a * r + j];
                }
                for (int t = 0; t < i; t++) {
                    const double li = M[i * P + t];
                    for (int j = 0; j < r; j++)
                        Wi[j] -= li * W[(size_t)t * r + j];
                }
                const double inv = 1.0 / M[i * P + i];
                for (int j = 0; j < r; j++)
                    Wi[j] *= inv;
            }
        }
        /* G -= W'W, upper triangle */
        for (int a = 0; a < P; a++) {
            const double *Wa = W + (size_t)a * r;
            for (int i = 0; i < r; i++) {
                const double w = Wa[i];
                if (w == 0.0)
                    continue;
                double *restrict Gi = G + (size_t)i * r;
                for (int j = i; j < r; j++)
                    Gi[j] -= w * Wa[j];
            }
        }
    }
    const double ld = logprod_log(&lp);
    if (!(fabs(ld) < HUGE_VAL))
        return base->bad;
    const int qr = self->q_rest;
    if (qr == 0) {
        if (cholesky_upper(G, r, r) < 0)
            return base->bad;
        return finish(base, ld, G, r);
    }
    /* the lower triangle of G, then H = Lambda_r' G Lambda_r by its nonzeros (rows of G
     * and then of H are contiguous), + I on Z_rest */
    for (int i = 0; i < r; i++)
        for (int j = 0; j < i; j++)
            G[(size_t)i * r + j] = G[(size_t)j * r + i];
    double *H = self->H;
    /* H1 = G Lambda_r into H (columns < q_rest from the nonzeros, the rest copied) */
    for (int i = 0; i < r; i++) {
        double *Hi = H + (size_t)i * r;
        const double *Gi = G + (size_t)i * r;
        for (int c = 0; c < qr; c++)
            Hi[c] = 0.0;
        for (int c = qr; c < r; c++)
            Hi[c] = Gi[c];
        for (int e = 0; e < self->n_rest; e++)
            Hi[self->rcol[e]] += Gi[self->rrow[e]] * x[self->rt[e]];
    }
    /* G = Lambda_r' H1: rows < q_rest from the nonzeros, the rest copied */
    for (int c = 0; c < qr; c++)
        memset(G + (size_t)c * r, 0, sizeof(double) * r);
    for (int c = qr; c < r; c++)
        memcpy(G + (size_t)c * r, H + (size_t)c * r, sizeof(double) * r);
    for (int e = 0; e < self->n_rest; e++) {
        const double t = x[self->rt[e]];
        if (t == 0.0)
            continue;
        double *restrict Gc = G + (size_t)self->rcol[e] * r;
        const double *restrict Hr = H + (size_t)self->rrow[e] * r;
        for (int j = 0; j < r; j++)
            Gc[j] += t * Hr[j];
    }
    for (int i = 0; i < qr; i++)
        G[(size_t)i * (r + 1)] += 1.0;
    if (cholesky_upper(G, r, r) < 0)
        return base->bad;
    LogProd rest = {1.0, 0};
    for (int i = 0; i < qr; i++)
        logprod_mul(&rest, G[(size_t)i * (r + 1)]);
    return finish(base, ld + 2.0 * logprod_log(&rest), G + (size_t)qr * (r + 1), r);
}

static void
free_block(BlockCriterion *self)
{
    free(self->trow); free(self->tcol); free(self->D); free(self->F); free(self->xy);
    free(self->G); free(self->T); free(self->M); free(self->W); free(self->base.best_x);
    free(self->rrow); free(self->rcol); free(self->rt); free(self->H); free(self->det_d);
    self->trow = self->tcol = self->rrow = self->rcol = self->rt = NULL;
    self->D = self->F = self->xy = self->G = self->H = self->T = self->M = self->W = NULL;
    self->det_d = NULL;
    self->base.best_x = NULL;
    self->base.eval = NULL;
}

static void
BlockCriterion_dealloc(BlockCriterion *self)
{
    free_block(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int
BlockCriterion_init(BlockCriterion *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"D", "F", "xy", "trow", "tcol", "rrow", "rcol", "rtheta",
                             "q_rest", "n_theta", "n_obs", "reml", "log_det_w", "bad", NULL};
    PyObject *Do, *Fo, *xyo, *tro, *tco, *rro, *rco, *rto;
    int q_rest, n_theta, reml;
    double n_obs, log_det_w, bad;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOOOOOOiidpdd", kwlist, &Do, &Fo, &xyo,
                                     &tro, &tco, &rro, &rco, &rto, &q_rest, &n_theta, &n_obs,
                                     &reml, &log_det_w, &bad))
        return -1;
    free_block(self);
    Py_buffer D, F, xy, tr, tc, rr, rc_, rt;
    Py_buffer *views[8] = {&D, &F, &xy, &tr, &tc, &rr, &rc_, &rt};
    PyObject *objs[8] = {Do, Fo, xyo, tro, tco, rro, rco, rto};
    const char kinds[8] = {'d', 'd', 'd', 'i', 'i', 'i', 'i', 'i'};
    const char *names[8] = {"D", "F", "xy", "trow", "tcol", "rrow", "rcol", "rtheta"};
    int got = 0;
    for (; got < 8; got++)
        if (get_buffer(objs[got], views[got], kinds[got], 0, names[got]) < 0)
            break;
    int rc = -1;
    if (got < 8)
        goto done;
    if (D.ndim != 3 || F.ndim != 3 || xy.ndim != 2 || D.shape[1] != D.shape[2] ||
        F.shape[0] != D.shape[0] || F.shape[1] != D.shape[1] || xy.shape[0] != xy.shape[1] ||
        F.shape[2] != xy.shape[0] || xy.shape[0] < 1 || D.shape[1] < 1 || D.shape[1] > 64 ||
        tr.len != tc.len || tr.len == 0 || rr.len != rc_.len || rr.len != rt.len ||
        q_rest < 0 || q_rest >= xy.shape[0] || (q_rest == 0) != (rr.len == 0)) {
        PyErr_SetString(PyExc_ValueError, "BlockCriterion: inconsistent shapes");
        goto done;
    }
    const int nl = (int)D.shape[0], P = (int)D.shape[1], r = (int)xy.shape[0];
    const int n1 = (int)(tr.len / 8), ne = (int)(rr.len / 8);
    const int64_t *trd = tr.buf, *tcd = tc.buf, *rrd = rr.buf, *rcd = rc_.buf, *rtd = rt.buf;
    if (n_theta < n1) {
        PyErr_SetString(PyExc_ValueError, "BlockCriterion: n_theta below the first term's");
        goto done;
    }
    self->trow = malloc(sizeof(int) * n1);
    self->tcol = malloc(sizeof(int) * n1);
    self->rrow = malloc(sizeof(int) * (ne + 1));
    self->rcol = malloc(sizeof(int) * (ne + 1));
    self->rt = malloc(sizeof(int) * (ne + 1));
    self->D = malloc(D.len);
    self->det_d = malloc(sizeof(double) * (nl + 1));
    self->F = malloc(F.len);
    self->xy = malloc(xy.len);
    self->G = malloc(xy.len);
    self->H = malloc(xy.len);
    self->T = malloc(sizeof(double) * P * P);
    self->M = malloc(sizeof(double) * P * P);
    self->W = malloc(sizeof(double) * P * r);
    self->base.best_x = malloc(sizeof(double) * n_theta);
    if (!self->trow || !self->tcol || !self->rrow || !self->rcol || !self->rt || !self->D ||
        !self->det_d ||
        !self->F || !self->xy || !self->G || !self->H || !self->T || !self->M || !self->W ||
        !self->base.best_x) {
        PyErr_NoMemory();
        goto done;
    }
    for (int a = 0; a < n1; a++) {
        if (trd[a] < tcd[a] || tcd[a] < 0 || trd[a] >= P) {
            PyErr_SetString(PyExc_ValueError, "BlockCriterion: theta outside T's lower triangle");
            goto done;
        }
        self->trow[a] = (int)trd[a];
        self->tcol[a] = (int)tcd[a];
    }
    for (int e = 0; e < ne; e++) {
        if (rrd[e] < 0 || rrd[e] >= q_rest || rcd[e] < 0 || rcd[e] >= q_rest ||
            rtd[e] < n1 || rtd[e] >= n_theta) {
            PyErr_SetString(PyExc_ValueError, "BlockCriterion: a rest entry out of range");
            goto done;
        }
        self->rrow[e] = (int)rrd[e];
        self->rcol[e] = (int)rcd[e];
        self->rt[e] = (int)rtd[e];
    }
    memcpy(self->D, D.buf, D.len);
    for (int l = 0; l < nl && P == 2; l++) {
        const double *Dl = self->D + (size_t)l * 4;
        self->det_d[l] = Dl[0] * Dl[3] - Dl[1] * Dl[1];
    }
    memcpy(self->F, F.buf, F.len);
    memcpy(self->xy, xy.buf, xy.len);
    self->n_levels = nl;
    self->pz = P;
    self->r = r;
    self->n_first = n1;
    self->q_rest = q_rest;
    self->n_rest = ne;
    init_base(&self->base, n_theta, r - 1 - q_rest, n_obs, reml, log_det_w, bad);
    self->base.eval = block_eval;
    rc = 0;
done:
    if (rc < 0)
        free_block(self);
    for (int i = 0; i < got; i++)
        PyBuffer_Release(views[i]);
    return rc;
}

/* ---- Calling a criterion, and NLopt runs in C ------------------------------------------- */

/* theta as n doubles: a float64 buffer, else any sequence of numbers. */
static int
read_theta(Criterion *self, PyObject *obj, double *out)
{
    Py_buffer view;
    if (PyObject_GetBuffer(obj, &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) == 0) {
        int ok = holds(&view, 'd');
        if (ok && view.len != (Py_ssize_t)sizeof(double) * self->n_theta) {
            PyBuffer_Release(&view);
            PyErr_Format(PyExc_ValueError, "theta has %zd values, expected %d",
                         view.len / 8, self->n_theta);
            return -1;
        }
        if (ok)
            memcpy(out, view.buf, sizeof(double) * self->n_theta);
        PyBuffer_Release(&view);
        if (ok)
            return 0;
    }
    else
        PyErr_Clear();
    PyObject *seq = PySequence_Fast(obj, "theta must be a sequence of numbers");
    if (seq == NULL)
        return -1;
    if (PySequence_Fast_GET_SIZE(seq) != self->n_theta) {
        PyErr_Format(PyExc_ValueError, "theta has %zd values, expected %d",
                     PySequence_Fast_GET_SIZE(seq), self->n_theta);
        Py_DECREF(seq);
        return -1;
    }
    for (int a = 0; a < self->n_theta; a++) {
        out[a] = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(seq, a));
        if (out[a] == -1.0 && PyErr_Occurred()) {
            Py_DECREF(seq);
            return -1;
        }
    }
    Py_DECREF(seq);
    return 0;
}

static PyObject *
Criterion_call(Criterion *self, PyObject *args, PyObject *kwds)
{
    PyObject *theta;
    if (!PyArg_ParseTuple(args, "O", &theta))
        return NULL;
    if (self->eval == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the criterion was not initialised");
        return NULL;
    }
    double x[64], *xp = x;
    if (self->n_theta > 64 && (xp = malloc(sizeof(double) * self->n_theta)) == NULL)
        return PyErr_NoMemory();
    PyObject *out = NULL;
    if (read_theta(self, theta, xp) == 0)
        out = PyFloat_FromDouble(self->eval(self, xp));
    if (xp != x)
        free(xp);
    return out;
}

static double
nlopt_objective(unsigned n, const double *x, double *gradient, void *data)
{
    Criterion *self = (Criterion *)data;
    double v = self->eval(self, x);
    if (v < self->best_f) {
        self->best_f = v;
        memcpy(self->best_x, x, sizeof(double) * n);
    }
    return v;
}

static PyObject *
Criterion_minimize(Criterion *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"x", "lower", "algorithm", "xtol_abs", "ftol_abs", "maxeval",
                             "initial_step", "best_x", NULL};
    PyObject *xo, *lo, *stepo, *besto;
    int algorithm, maxeval;
    double xtol_abs, ftol_abs;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOiddiOO", kwlist, &xo, &lo, &algorithm,
                                     &xtol_abs, &ftol_abs, &maxeval, &stepo, &besto))
        return NULL;
    if (!NL.ready || self->eval == NULL) {
        PyErr_SetString(PyExc_RuntimeError, NL.ready ? "the criterion was not initialised"
                                                     : "NLopt's C interface is not loaded");
        return NULL;
    }
    Py_buffer x, lower, step, best;
    int have_step = stepo != Py_None;
    if (get_buffer(xo, &x, 'd', 1, "x") < 0)
        return NULL;
    if (get_buffer(lo, &lower, 'd', 0, "lower") < 0) {
        PyBuffer_Release(&x);
        return NULL;
    }
    if (get_buffer(besto, &best, 'd', 1, "best_x") < 0) {
        PyBuffer_Release(&x);
        PyBuffer_Release(&lower);
        return NULL;
    }
    if (have_step && get_buffer(stepo, &step, 'd', 0, "initial_step") < 0) {
        PyBuffer_Release(&x);
        PyBuffer_Release(&lower);
        PyBuffer_Release(&best);
        return NULL;
    }
    PyObject *out = NULL;
    const Py_ssize_t n = self->n_theta, bytes = (Py_ssize_t)sizeof(double) * n;
    if (n == 0 || x.len != bytes || lower.len != bytes || best.len != bytes ||
        (have_step && step.len != bytes)) {
        PyErr_SetString(PyExc_ValueError, "minimize: arrays must have one value per theta");
        goto done;
    }
    nlopt_opt opt = NL.create(algorithm, (unsigned)n);
    if (opt == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    self->best_f = HUGE_VAL;
    memcpy(self->best_x, x.buf, bytes);
    double fmin = HUGE_VAL;
    int code = NL.set_min_objective(opt, nlopt_objective, self);
    if (code > 0) code = NL.set_lower_bounds(opt, (const double *)lower.buf);
    if (code > 0) code = NL.set_xtol_abs1(opt, xtol_abs);
    if (code > 0) code = NL.set_ftol_abs(opt, ftol_abs);
    if (code > 0) code = NL.set_maxeval(opt, maxeval);
    if (code > 0 && have_step) code = NL.set_initial_step(opt, (const double *)step.buf);
    int numevals = 0;
    if (code > 0) {
        code = NL.optimize(opt, (double *)x.buf, &fmin);
        numevals = NL.get_numevals(opt);
    }
    NL.destroy(opt);
    memcpy(best.buf, self->best_x, bytes);
    out = Py_BuildValue("iid", code, numevals, self->best_f);
done:
    PyBuffer_Release(&x);
    PyBuffer_Release(&lower);
    PyBuffer_Release(&best);
    if (have_step)
        PyBuffer_Release(&step);
    return out;
}

static PyMethodDef Criterion_methods[] = {
    {"minimize", (PyCFunction)(void (*)(void))Criterion_minimize,
     METH_VARARGS | METH_KEYWORDS,
     "minimize(x, lower, algorithm, xtol_abs, ftol_abs, maxeval, initial_step, best_x)\n"
     "-> (NLopt result code, evaluations, best value). One NLopt run from x (overwritten\n"
     "with NLopt's answer); best_x receives the best point evaluated."},
    {NULL, NULL, 0, NULL},
};

static PyObject *
Criterion_n_theta(Criterion *self, void *closure)
{
    return PyLong_FromLong(self->n_theta);
}

static PyGetSetDef Criterion_getset[] = {
    {"n_theta", (getter)Criterion_n_theta, NULL, "length of theta", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject DenseCriterionType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "multilevel.core._criteria.DenseCriterion",
    .tp_doc = "DenseCriterion(K, ia, ib, m, q, p, n_obs, reml, log_det_w, bad)\n"
              "theta -> the ML deviance or REML criterion of S = coef(theta) @ K (see\n"
              "multilevel.core.dense_small); bad where S is not positive definite.",
    .tp_basicsize = sizeof(DenseCriterion),
    .tp_itemsize = 0,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)DenseCriterion_init,
    .tp_dealloc = (destructor)DenseCriterion_dealloc,
    .tp_call = (ternaryfunc)Criterion_call,
    .tp_methods = Criterion_methods,
    .tp_getset = Criterion_getset,
};

static PyTypeObject BlockCriterionType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "multilevel.core._criteria.BlockCriterion",
    .tp_doc = "BlockCriterion(D, F, xy, trow, tcol, rrow, rcol, rtheta, q_rest, n_theta,\n"
              "n_obs, reml, log_det_w, bad): theta -> the ML deviance or REML criterion with\n"
              "the first term's levels eliminated one by one (per-level Z'Z blocks D (l, p,\n"
              "p), Z'[Z_rest X y] blocks F (l, p, r)) and the rest [Z_rest X y] (cross-\n"
              "products xy, q_rest random effects, Lambda_r[rrow, rcol] = theta[rtheta])\n"
              "factored densely; theta fills T[trow, tcol]. bad where not positive definite.",
    .tp_basicsize = sizeof(BlockCriterion),
    .tp_itemsize = 0,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)BlockCriterion_init,
    .tp_dealloc = (destructor)BlockCriterion_dealloc,
    .tp_call = (ternaryfunc)Criterion_call,
    .tp_methods = Criterion_methods,
    .tp_getset = Criterion_getset,
};

static PyMethodDef module_methods[] = {
    {"load_nlopt", load_nlopt, METH_O,
     "load_nlopt(path) -> bool: look up NLopt's C functions in the shared library at path"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_criteria",
    "The compiled inner loop of a small model's profiled objective.", -1, module_methods,
};

PyMODINIT_FUNC
PyInit__criteria(void)
{
    if (PyType_Ready(&DenseCriterionType) < 0 || PyType_Ready(&BlockCriterionType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&DenseCriterionType);
    if (PyModule_AddObject(m, "DenseCriterion", (PyObject *)&DenseCriterionType) < 0) {
        Py_DECREF(&DenseCriterionType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&BlockCriterionType);
    if (PyModule_AddObject(m, "BlockCriterion", (PyObject *)&BlockCriterionType) < 0) {
        Py_DECREF(&BlockCriterionType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
