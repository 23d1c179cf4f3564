"""broom's three verbs for fitted models: ``tidy``, ``glance``, ``augment``.

Column names follow broom / broom.mixed with dots as underscores (``std.error`` ->
``std_error``, ``conf.low`` -> ``conf_low``); the added columns of ``augment`` keep broom's
leading dot (``.fitted``, ``.resid``, ``.fixed``). The result classes expose them as methods:
``m.tidy()``, ``m.glance()``, ``m.augment()``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["tidy", "glance", "augment", "is_mixed", "fixed_table", "random_variance"]


def is_mixed(model) -> bool:
    """Whether `model` is a mixed model (has random-effect terms)."""
    return bool(getattr(model.design, "re_terms", None)) and hasattr(model, "varcorr")


def fixed_table(model, conf_level: float = 0.95) -> pd.DataFrame:
    """Fixed effects with standard errors, statistics, p-values and confidence limits.

    ``lm``: t statistics on the residual degrees of freedom (R's ``confint.lm``);
    mixed models: Wald z intervals and p-values (broom.mixed's and sjPlot's default).
    """
    import pandas as pd
    from scipy import stats

    est = model.fixef.astype(float)
    se = np.sqrt(np.diag(model.vcov.loc[est.index, est.index].to_numpy(dtype=float)))
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = est.to_numpy() / se
    if is_mixed(model):
        q = stats.norm.ppf(0.5 + conf_level / 2)
        p = 2 * stats.norm.sf(np.abs(stat))
    else:
        df = model.df_resid
        q = stats.t.ppf(0.5 + conf_level / 2, df)
        p = 2 * stats.t.sf(np.abs(stat), df)
    return pd.DataFrame({"estimate": est.to_numpy(), "std_error": se, "statistic": stat,
                         "p_value": p, "conf_low": est.to_numpy() - q * se,
                         "conf_high": est.to_numpy() + q * se}, index=est.index)


def tidy(model, *, effects: str | tuple[str, ...] = ("fixed", "ran_pars"), conf_int: bool = True,
         conf_level: float = 0.95) -> pd.DataFrame:
    """One row per estimated parameter (broom's ``tidy``; broom.mixed's for mixed models).

    Parameters
    ----------
    model : LmResult or LmerResult
    effects : str or tuple of str
        Mixed models: ``"fixed"`` (fixed effects), ``"ran_pars"`` (standard deviations and
        correlations of the random effects and the residual SD, named as broom.mixed does:
        ``sd__(Intercept)``, ``cor__(Intercept).homework``, ``sd__Observation``) and/or
        ``"ran_vals"`` (each level's conditional mode, with its conditional SD as the
        standard error).
    conf_int : bool
        Add ``conf_low``/``conf_high`` (for fixed effects and ran_vals).
    conf_level : float

    Returns
    -------
    DataFrame
        ``lm``: ``term, estimate, std_error, statistic, p_value[, conf_low, conf_high]``.
        Mixed: ``effect, group, term[, level], estimate, std_error, statistic[, conf_low,
        conf_high]`` (no p-values, as broom.mixed for ``lmer``).

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> m.tidy()[["effect", "group", "term"]].values.tolist()[1:3]
    [['fixed', None, 'Days'], ['ran_pars', 'Subject', 'sd__(Intercept)']]
    """
    import pandas as pd

    fx = fixed_table(model, conf_level)
    if not is_mixed(model):
        out = fx.rename_axis("term").reset_index()
        return out if conf_int else out.drop(columns=["conf_low", "conf_high"])
    wanted = (effects,) if isinstance(effects, str) else tuple(effects)
    unknown = set(wanted) - {"fixed", "ran_pars", "ran_vals"}
    if unknown:
        raise ValueError(f"unknown effects {sorted(unknown)}: use 'fixed', 'ran_pars', "
                         "'ran_vals'")
    parts = []
    if "fixed" in wanted:
        f = fx.drop(columns=["p_value"]).rename_axis("term").reset_index()
        f.insert(0, "group", None)
        f.insert(0, "effect", "fixed")
        parts.append(f)
    if "ran_pars" in wanted:
        # broom.mixed's order: each term's SD followed by its correlations with later terms
        rows = []
        vc = model.varcorr
        is_sd = vc["var2"].isna()
        for grp in dict.fromkeys(vc["grp"]):
            block = vc[vc["grp"] == grp]
            for r in block[is_sd[block.index]].itertuples(index=False):
                term = "sd__Observation" if grp == "Residual" else f"sd__{r.var1}"
                rows.append({"effect": "ran_pars", "group": grp, "term": term,
                             "estimate": float(r.sdcor)})
                for c in block[(~is_sd[block.index]) & (block["var1"] == r.var1)].itertuples(
                        index=False):
                    rows.append({"effect": "ran_pars", "group": grp,
                                 "term": f"cor__{c.var1}.{c.var2}", "estimate": float(c.sdcor)})
        parts.append(pd.DataFrame(rows))
    if "ran_vals" in wanted:
        from scipy import stats

        re = model.ranef(cond_var=True)
        q = stats.norm.ppf(0.5 + conf_level / 2)
        parts.append(pd.DataFrame({
            "effect": "ran_vals", "group": re["grpvar"], "term": re["term"], "level": re["grp"],
            "estimate": re["condval"], "std_error": re["condsd"],
            "conf_low": re["condval"] - q * re["condsd"],
            "conf_high": re["condval"] + q * re["condsd"]}))
    out = pd.concat(parts, ignore_index=True)
    cols = ["effect", "group", "term"] + (["level"] if "ran_vals" in wanted else []) + [
        "estimate", "std_error", "statistic"] + (["conf_low", "conf_high"] if conf_int else [])
    out = out.reindex(columns=cols)
    out["group"] = out["group"].astype(object).where(out["group"].notna(), None)
    return out


def residual_variance(model) -> float | None:
    """The observation-level variance the ICC compares with: sigma² for linear models;
    for binomial GLMMs the latent-scale variance (pi²/3 logit, 1 probit, as sjPlot and
    the performance package); None where no single value applies."""
    if getattr(model, "kind", "") != "glmer":
        return float(model.sigma) ** 2
    family = str(getattr(model, "family", "")).lower()
    link = str(getattr(model, "link", "")).lower()
    if family == "binomial" and link == "logit":
        return float(np.pi ** 2 / 3)
    if family == "binomial" and link == "probit":
        return 1.0
    return None


def random_variance(model) -> float:
    """Mean variance the random effects add to an observation: ``mean_i z_i' Sigma z_i``
    summed over terms (Johnson's extension of Nakagawa's R², used by sjPlot for the ICC)."""
    total = 0.0
    covs = model._term_covariances()
    for term, S in zip(model.terms, covs):
        Z = np.asarray(term.Z, dtype=float)
        total += float(np.mean(np.einsum("ni,ij,nj->n", Z, S, Z)))
    return total


def glance(model) -> pd.DataFrame:
    """Model statistics in one row (broom's ``glance``).

    Returns
    -------
    DataFrame
        ``lm``: ``r_squared, adj_r_squared, sigma, statistic, p_value, df, loglik, aic, bic,
        deviance, df_residual, nobs``. Mixed: ``nobs, sigma, loglik, aic, bic, deviance,
        df_residual`` plus ``ngrps`` (groups of the first grouping factor) and ``icc``.

    Examples
    --------
    >>> import multilevel as ml
    >>> ml.lm("Reaction ~ Days", ml.datasets.load("sleepstudy")).glance()["nobs"].item()
    180
    """
    import pandas as pd
    from scipy import stats

    if not is_mixed(model):
        f, numdf, dendf = model.fstatistic
        p = float(stats.f.sf(f, numdf, dendf)) if numdf else float("nan")
        row = {"r_squared": model.r_squared, "adj_r_squared": model.adj_r_squared,
               "sigma": model.sigma, "statistic": f, "p_value": p, "df": numdf,
               "loglik": model.loglik, "aic": model.aic, "bic": model.bic,
               "deviance": model.deviance, "df_residual": model.df_resid, "nobs": model.nobs}
        return pd.DataFrame([row])
    vr = random_variance(model)
    ve = residual_variance(model)
    row = {"nobs": model.nobs, "sigma": model.sigma, "loglik": model.loglik, "aic": model.aic,
           "bic": model.bic, "deviance": model.deviance, "df_residual": model.df_resid,
           "ngrps": int(model.ngrps.iloc[0]),
           "icc": vr / (vr + ve) if ve is not None else float("nan")}
    return pd.DataFrame([row])


def augment(model, data: pd.DataFrame | None = None) -> pd.DataFrame:
    """The data of the fit with fitted values and residuals (broom's ``augment``).

    Parameters
    ----------
    model : LmResult or LmerResult
    data : DataFrame, optional
        The data the model was fitted to (pandas, polars or pyarrow); its used rows (those
        without missing values) are returned with the new columns, in the input's kind (a
        polars DataFrame for polars, a pyarrow Table for pyarrow). Without it: the response
        and the model-matrix columns.

    Returns
    -------
    DataFrame
        The columns of `data`, then ``.fitted`` and ``.resid``; mixed models add ``.fixed``
        (the population-level prediction, ``predict(m, re.form = NA)``); ``lm`` adds ``.hat``
        (leverage) and ``.std_resid`` (standardised residuals).

    Examples
    --------
    >>> import multilevel as ml
    >>> sleep = ml.datasets.load("sleepstudy")
    >>> m = ml.lmer("Reaction ~ Days + (1 | Subject)", sleep)
    >>> m.augment(sleep).columns.tolist()
    ['Reaction', 'Days', 'Subject', '.fitted', '.resid', '.fixed']
    """
    import pandas as pd

    from .._data_input import like_input, to_pandas

    original = data
    data = None if data is None else to_pandas(data)
    design = model.design
    rows = np.asarray(design.rows)
    if data is not None:
        if len(data) <= (rows.max() if len(rows) else -1):
            raise ValueError("data has fewer rows than the model was fitted to; pass the "
                             "same data as to the fit")
        out = data.iloc[rows].copy()
    else:
        X = np.asarray(design.X, dtype=float)
        cols = {design.response_name: np.asarray(design.y, dtype=float)}
        for j, name in enumerate(design.xnames):
            if name != "(Intercept)":
                cols[name] = X[:, j]
        out = pd.DataFrame(cols, index=model.row_labels)
    fitted = np.asarray(model.fitted, dtype=float)
    out[".fitted"] = fitted
    if getattr(model, "kind", "") == "glmer":  # response scale, as fitted()
        out[".resid"] = np.asarray(model.residuals(type="response"), dtype=float)
        out[".fixed"] = np.asarray(model.predict(re_form=None, type="response"), dtype=float)
    else:
        out[".resid"] = np.asarray(design.y, dtype=float) - fitted
    if is_mixed(model) and ".fixed" not in out:
        out[".fixed"] = np.asarray(model.predict(re_form=None), dtype=float)
    else:
        X = np.asarray(design.X, dtype=float)
        Q, _ = np.linalg.qr(X)
        hat = np.sum(Q ** 2, axis=1)
        out[".hat"] = hat
        with np.errstate(divide="ignore", invalid="ignore"):
            out[".std_resid"] = out[".resid"].to_numpy() / (model.sigma * np.sqrt(1 - hat))
    return out if original is None else like_input(out, original)
