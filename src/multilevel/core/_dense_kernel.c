/* The compiled inner loop of a small model's profiled objective.
 *
 * multilevel.core.dense_small.DenseObjective writes the whole system
 *     S(theta) = [[Lambda' Z'Z Lambda + I, Lambda' Z'[X y]], [., [X y]'[X y]]]
 * (order m = q + p + 1, at most a few dozen) as a quadratic form in theta with constant
 * matrices: S = coef(theta) @ K, coef = (1, theta, theta_a theta_b for a <= b). Its numpy
 * evaluation is a dozen calls of about a microsecond each, and NLopt's Python interface adds
 * about four more per evaluation. Here the same arithmetic runs in C: the lower triangle of S
 * from K's nonzero entries, a Cholesky factorisation, the log-determinants and the ML or REML
 * criterion (multilevel.core.lmm.LmmProblem._criterion); and NLopt's BOBYQA calls it through
 * NLopt's C interface (the library the nlopt package already loaded), so a whole optimiser
 * run stays in C.
 *
 * The numerical core only: no Python objects are touched inside an evaluation.
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

/* ---- The criterion ------------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    int n_theta, n_pairs, n_coef, m, q, p, reml;
    double n_obs, log_det_w, bad, log2pi;
    int *ia, *ib;          /* theta pairs a <= b of the quadratic coefficients */
    int *start;            /* per upper-triangle entry (row-major), its run in k/val */
    int *k;                /* coefficient index of each nonzero of K */
    double *val;           /* the nonzero itself */
    double *coef, *S;      /* workspace: coefficients, S and then U = L' (row-major, upper) */
    double *best_x;        /* the best point of the last minimize() */
    double best_f;
} DenseCriterion;

/* The criterion at x, or self->bad where S is not positive definite. */
static double
evaluate(DenseCriterion *self, const double *x)
{
    const int n = self->n_theta, m = self->m, q = self->q;
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
    /* Cholesky S = U'U in place, right-looking by rows of U (U = L'): each step updates the
     * rows below by contiguous multiply-adds, and skips a row whose multiplier is an exact
     * zero (the level blocks of the first term do not touch, and zeros stay zeros). */
    for (int k = 0; k < m; k++) {
        double *Uk = S + (size_t)k * m;
        const double d = Uk[k];
        if (!(d > 0.0))  /* also NaN */
            return self->bad;
        const double r = sqrt(d), inv = 1.0 / r;
        Uk[k] = r;
        for (int j = k + 1; j < m; j++)
            Uk[j] *= inv;
        for (int i = k + 1; i < m; i++) {
            const double a = Uk[i];
            if (a == 0.0)
                continue;
            double *restrict Ui = S + (size_t)i * m;
            const double *restrict Ukr = Uk;
            for (int j = i; j < m; j++)
                Ui[j] -= a * Ukr[j];
        }
    }
    double ld = 0.0;
    for (int i = 0; i < q; i++)
        ld += log(S[(size_t)i * (m + 1)]);
    ld = 2.0 * ld - self->log_det_w;
    const double r = S[(size_t)(m - 1) * (m + 1)];
    const double r2 = r * r;
    if (self->reml) {
        const double dof = self->n_obs - self->p;
        double ldx = 0.0;
        for (int i = q; i < q + self->p; i++)
            ldx += log(S[(size_t)i * (m + 1)]);
        return ld + 2.0 * ldx + dof * (1.0 + self->log2pi + log(r2 / dof));
    }
    return ld + self->n_obs * (1.0 + self->log2pi + log(r2 / self->n_obs));
}

static void
DenseCriterion_dealloc(DenseCriterion *self)
{
    free(self->ia);
    free(self->ib);
    free(self->start);
    free(self->k);
    free(self->val);
    free(self->coef);
    free(self->S);
    free(self->best_x);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* A C-contiguous buffer of 8-byte items of the given kind ('d' doubles, 'i' integers). */
static int
get_buffer(PyObject *obj, Py_buffer *view, char kind, int writable, const char *what)
{
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0)
        return -1;
    const char *f = view->format ? view->format : "B";
    if (*f == '<' || *f == '=' || *f == '@')
        f++;
    int ok = view->itemsize == 8 &&
             (kind == 'd' ? strcmp(f, "d") == 0
                          : (strcmp(f, "l") == 0 || strcmp(f, "q") == 0));
    if (!ok) {
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
    /* a second __init__ starts afresh */
    free(self->ia); free(self->ib); free(self->start); free(self->k); free(self->val);
    free(self->coef); free(self->S); free(self->best_x);
    self->ia = self->ib = self->start = self->k = NULL;
    self->val = self->coef = self->S = self->best_x = NULL;
    self->n_theta = -1;
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
    if (n < 0 || n * (n + 1) / 2 != n_pairs) {
        PyErr_SetString(PyExc_ValueError, "DenseCriterion: K does not match the theta pairs");
        goto done;
    }
    self->n_theta = (int)n;
    self->n_pairs = (int)n_pairs;
    self->n_coef = (int)n_coef;
    self->m = m;
    self->q = q;
    self->p = p;
    self->reml = reml;
    self->n_obs = n_obs;
    self->log_det_w = log_det_w;
    self->bad = bad;
    self->log2pi = log(2.0 * M_PI);
    self->best_f = HUGE_VAL;
    const double *Kd = (const double *)K.buf;
    const int64_t *iad = (const int64_t *)ia.buf, *ibd = (const int64_t *)ib.buf;
    size_t n_lower = (size_t)m * (m + 1) / 2, nnz = 0;
    for (int i = 0; i < m; i++)
        for (int j = i; j < m; j++)
            for (Py_ssize_t c = 0; c < n_coef; c++)
                nnz += Kd[c * m * m + (size_t)i * m + j] != 0.0;
    self->ia = malloc(sizeof(int) * (n_pairs + 1));
    self->ib = malloc(sizeof(int) * (n_pairs + 1));
    self->start = malloc(sizeof(int) * (n_lower + 1));
    self->k = malloc(sizeof(int) * (nnz + 1));
    self->val = malloc(sizeof(double) * (nnz + 1));
    self->coef = malloc(sizeof(double) * n_coef);
    self->S = malloc(sizeof(double) * (size_t)m * m);
    self->best_x = malloc(sizeof(double) * (n + 1));
    if (!self->ia || !self->ib || !self->start || !self->k || !self->val || !self->coef ||
        !self->S || !self->best_x) {
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
    memset(self->S, 0, sizeof(double) * (size_t)m * m);
    rc = 0;
done:
    PyBuffer_Release(&K);
    PyBuffer_Release(&ia);
    PyBuffer_Release(&ib);
    return rc;
}

/* theta as n doubles: a float64 buffer, else any sequence of numbers. */
static int
read_theta(DenseCriterion *self, PyObject *obj, double *out)
{
    Py_buffer view;
    if (PyObject_GetBuffer(obj, &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) == 0) {
        const char *f = view.format ? view.format : "B";
        if (*f == '<' || *f == '=' || *f == '@')
            f++;
        int ok = view.itemsize == 8 && strcmp(f, "d") == 0;
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
DenseCriterion_call(DenseCriterion *self, PyObject *args, PyObject *kwds)
{
    PyObject *theta;
    if (!PyArg_ParseTuple(args, "O", &theta))
        return NULL;
    if (self->S == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "DenseCriterion was not initialised");
        return NULL;
    }
    double x[64], *xp = x;
    if (self->n_theta > 64 && (xp = malloc(sizeof(double) * self->n_theta)) == NULL)
        return PyErr_NoMemory();
    PyObject *out = NULL;
    if (read_theta(self, theta, xp) == 0)
        out = PyFloat_FromDouble(evaluate(self, xp));
    if (xp != x)
        free(xp);
    return out;
}

static double
nlopt_objective(unsigned n, const double *x, double *gradient, void *data)
{
    DenseCriterion *self = (DenseCriterion *)data;
    double v = evaluate(self, x);
    if (v < self->best_f) {
        self->best_f = v;
        memcpy(self->best_x, x, sizeof(double) * n);
    }
    return v;
}

static PyObject *
DenseCriterion_minimize(DenseCriterion *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"x", "lower", "algorithm", "xtol_abs", "ftol_abs", "maxeval",
                             "initial_step", "best_x", NULL};
    PyObject *xo, *lo, *stepo, *besto;
    int algorithm, maxeval;
    double xtol_abs, ftol_abs;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOiddiOO", kwlist, &xo, &lo, &algorithm,
                                     &xtol_abs, &ftol_abs, &maxeval, &stepo, &besto))
        return NULL;
    if (!NL.ready || self->S == NULL) {
        PyErr_SetString(PyExc_RuntimeError, NL.ready ? "DenseCriterion was not initialised"
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

static PyMethodDef DenseCriterion_methods[] = {
    {"minimize", (PyCFunction)(void (*)(void))DenseCriterion_minimize,
     METH_VARARGS | METH_KEYWORDS,
     "minimize(x, lower, algorithm, xtol_abs, ftol_abs, maxeval, initial_step, best_x)\n"
     "-> (NLopt result code, evaluations, best value). One NLopt run from x (overwritten\n"
     "with NLopt's answer); best_x receives the best point evaluated."},
    {NULL, NULL, 0, NULL},
};

static PyObject *
DenseCriterion_n_theta(DenseCriterion *self, void *closure)
{
    return PyLong_FromLong(self->n_theta);
}

static PyGetSetDef DenseCriterion_getset[] = {
    {"n_theta", (getter)DenseCriterion_n_theta, NULL, "length of theta", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject DenseCriterionType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "multilevel.core._dense_kernel.DenseCriterion",
    .tp_doc = "DenseCriterion(K, ia, ib, m, q, p, n_obs, reml, log_det_w, bad)\n"
              "theta -> the ML deviance or REML criterion of S = coef(theta) @ K (see\n"
              "multilevel.core.dense_small); bad where S is not positive definite.",
    .tp_basicsize = sizeof(DenseCriterion),
    .tp_itemsize = 0,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)DenseCriterion_init,
    .tp_dealloc = (destructor)DenseCriterion_dealloc,
    .tp_call = (ternaryfunc)DenseCriterion_call,
    .tp_methods = DenseCriterion_methods,
    .tp_getset = DenseCriterion_getset,
};

static PyMethodDef module_methods[] = {
    {"load_nlopt", load_nlopt, METH_O,
     "load_nlopt(path) -> bool: look up NLopt's C functions in the shared library at path"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_dense_kernel",
    "The compiled inner loop of a small model's profiled objective.", -1, module_methods,
};

PyMODINIT_FUNC
PyInit__dense_kernel(void)
{
    if (PyType_Ready(&DenseCriterionType) < 0)
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
    return m;
}
