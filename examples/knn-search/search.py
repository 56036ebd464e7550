"""A k-nearest-neighbours hyperparameter search on Gale: one call per (k, weights).

Each call fits a KNeighborsClassifier on the training half of a synthetic dataset and
returns the fitted model; the scoring happens here, on the held-out half, on the
objects that came back (the Pywren pattern: map a training function over the grid).

    python3 examples/knn-search/search.py --workers 2
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "python"))

import gale  # noqa: E402


def make_data(samples=4000, features=20, seed=0):
    """A fixed synthetic classification problem, split in half: (X_train, X_test, y_train, y_test)."""
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split
    X, y = make_classification(n_samples=samples, n_features=features, n_informative=8, n_redundant=4,
                               n_classes=3, class_sep=0.8, random_state=seed)
    return train_test_split(X, y, test_size=0.5, random_state=seed)


def grid(ks=range(1, 31, 2), weights=("uniform", "distance")):
    return [{"n_neighbors": k, "weights": w} for k in ks for w in weights]


def make_trainer(X_train, y_train, score_on=None):
    """The function that is mapped: hyperparameters -> fitted classifier. The training
    data travels inside it (pickled once per job, not once per call). With ``score_on``
    (X, y), the model also scores itself there, which is where KNN spends its time."""
    def train(params):
        from sklearn.neighbors import KNeighborsClassifier
        model = KNeighborsClassifier(algorithm="brute", **params).fit(X_train, y_train)
        if score_on is not None:
            model.validation_score_ = model.score(*score_on)
        return model
    return train


def search(executor, data=None, params=None, progress=False):
    """[(params, fitted model, held-out accuracy)], best first."""
    X_train, X_test, y_train, y_test = data or make_data()
    params = params or grid()
    models = list(executor.map(make_trainer(X_train, y_train), params, progress=progress))
    scored = [(p, model, model.score(X_test, y_test)) for p, model in zip(params, models)]
    return sorted(scored, key=lambda row: -row[2])


def main(argv=None, executor=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="calls at once (default 2)")
    parser.add_argument("--url")
    parser.add_argument("--token")
    args = parser.parse_args(argv)
    executor = executor or gale.Executor(args.url, args.token, max_workers=args.workers)
    data = make_data()
    started = time.perf_counter()
    results = search(executor, data)
    seconds = time.perf_counter() - started
    print(f"fitted {len(results)} KNeighborsClassifier models on Gale in {seconds:.2f}s")
    for params, model, accuracy in results[:5]:
        print(f"  n_neighbors={params['n_neighbors']:2d} weights={params['weights']:<8} accuracy {accuracy:.3f}"
              f"  ({type(model).__name__}, fitted on {model.n_samples_fit_} samples)")
    return results


if __name__ == "__main__":
    main()
