# A fuel-economy model served with plumber: trained once when the instance starts,
# then answering JSON predictions, a ggplot2 chart (PNG) and an HTML page.
library(ggplot2)

# ---- the model: miles per gallon from weight (1000 lbs) and horsepower, on R's mtcars
cars <- mtcars
model <- lm(mpg ~ wt + hp, data = cars)
r_squared <- summary(model)$r.squared
message(sprintf("model trained on %d cars: mpg = %.2f %+.2f*wt %+.4f*hp (R^2 %.3f)",
                nrow(cars), coef(model)[1], coef(model)[2], coef(model)[3], r_squared))

or_else <- function(x, fallback) if (is.null(x) || length(x) == 0 || identical(x, "")) fallback else x

# Reads wt and hp from the query string or a JSON body; NULL when either is not a number.
car_from <- function(wt, hp) {
  wt <- suppressWarnings(as.numeric(wt))
  hp <- suppressWarnings(as.numeric(hp))
  if (length(wt) != 1 || length(hp) != 1 || is.na(wt) || is.na(hp)) return(NULL)
  data.frame(wt = wt, hp = hp)
}

#* Predicted miles per gallon for a car, with a 95% prediction interval
#* @param wt:number weight in 1000 lbs, e.g. 3.2
#* @param hp:number gross horsepower, e.g. 150
#* @get /predict
#* @post /predict
#* @serializer unboxedJSON
function(res, wt = NULL, hp = NULL) {
  car <- car_from(wt, hp)
  if (is.null(car)) {
    res$status <- 400
    return(list(error = "give the car's weight and horsepower as numbers: /predict?wt=3.2&hp=150"))
  }
  p <- predict(model, car, interval = "prediction")
  list(wt = car$wt, hp = car$hp, mpg = round(p[1, "fit"], 2),
       low = round(p[1, "lwr"], 2), high = round(p[1, "upr"], 2),
       model = "lm(mpg ~ wt + hp, data = mtcars)", r_squared = round(r_squared, 3))
}

#* Weight against fuel economy for every car in the data, coloured by horsepower;
#* with wt and hp, the car asked about is drawn in red at its predicted mpg
#* @param wt:number optional weight to highlight
#* @param hp:number optional horsepower to highlight
#* @get /chart.png
#* @serializer png list(width = 720, height = 480)
function(wt = NULL, hp = NULL) {
  chart <- ggplot(cars, aes(x = wt, y = mpg, colour = hp)) +
    geom_point(size = 3) +
    scale_colour_viridis_c(name = "horsepower") +
    labs(x = "weight (1000 lbs)", y = "miles per gallon",
         title = "Heavier, stronger cars use more fuel",
         subtitle = sprintf("lm(mpg ~ wt + hp), R\u00b2 = %.2f", r_squared)) +
    theme_minimal(base_size = 14)
  car <- car_from(wt, hp)
  if (!is.null(car)) {
    car$mpg <- predict(model, car)
    chart <- chart + geom_point(data = car, colour = "red", size = 6, shape = 18)
  }
  print(chart)
}

#* A page with the model, a prediction form and the chart
#* @get /
#* @serializer html
function(req, wt = "3.2", hp = "150") {
  # Behind Gale the API lives under /fn/NAME; links must include that prefix.
  prefix <- or_else(req$HTTP_X_FORWARDED_PREFIX, "")
  car <- or_else(car_from(wt, hp), data.frame(wt = 3.2, hp = 150))
  mpg <- predict(model, car)
  coefs <- coef(model)
  sprintf('<!doctype html>
<html><head><meta charset="utf-8"><title>Fuel economy model</title>
<style>body{font-family:sans-serif;max-width:760px;margin:2em auto} td,th{padding:2px 12px;text-align:right}</style>
</head><body>
<h1>Fuel economy model</h1>
<p>Trained in R when this instance started: <code>lm(mpg ~ wt + hp)</code> on %d cars, R&sup2; = %.3f.</p>
<table><tr><th>term</th><th>estimate</th></tr>
<tr><td>(intercept)</td><td>%.3f</td></tr><tr><td>wt</td><td>%.3f</td></tr><tr><td>hp</td><td>%.4f</td></tr></table>
<form action="%s/" method="get">
weight <input name="wt" value="%s" size="5"> (1000 lbs) &nbsp; horsepower <input name="hp" value="%s" size="5">
<button>predict</button></form>
<p id="prediction">A car of %s thousand lbs and %s hp: <b>%.1f mpg</b>
(<a href="%s/predict?wt=%s&amp;hp=%s">JSON</a>)</p>
<img src="%s/chart.png?wt=%s&amp;hp=%s" alt="weight against mpg" width="720" height="480">
</body></html>',
    nrow(cars), r_squared, coefs[1], coefs[2], coefs[3], prefix, car$wt, car$hp,
    car$wt, car$hp, mpg, prefix, car$wt, car$hp, prefix, car$wt, car$hp)
}
