package org.plw4j.examples;

import java.awt.Color;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.BitmapEncoder.BitmapFormat;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;
import org.plw4j.RgSummary;

/** PNG charts of the examples, drawn with XChart (headless: no display needed). */
final class Charts {
    private static final Color[] PALETTE = {
        new Color(0xd62728), new Color(0xff7f0e), new Color(0x2ca02c), new Color(0x1f77b4), new Color(0x9467bd)};

    static {
        // Charts are drawn off-screen; never try to open a display.
        System.setProperty("java.awt.headless", "true");
    }

    private Charts() {
    }

    /** Histogram of Rg (bins of a tenth of a decade) on a log x axis, with the median and geometric mean marked. */
    static void rgHistogram(RgReport.Histogram hist, RgSummary summary, String title, Path png) throws IOException {
        XYChart chart = new XYChartBuilder().width(900).height(500).title(title)
                .xAxisTitle("Rg = completion tokens / prompt tokens (log scale)").yAxisTitle("examples").build();
        Styler styler = chart.getStyler();
        chart.getStyler().setXAxisLogarithmic(true);
        styler.setLegendPosition(Styler.LegendPosition.InsideNE);
        chart.getStyler().setDefaultSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.StepArea);
        chart.getStyler().setChartBackgroundColor(Color.WHITE);
        double[] edges = hist.edges();
        long[] counts = hist.counts();
        if (counts.length == 0) {
            edges = new double[] {0.1, 1, 10};
            counts = new long[] {0, 0};
        }
        // A step series: (edge_i, count_i) ... and a final point closing the last bin.
        double[] x = new double[counts.length + 1];
        double[] y = new double[counts.length + 1];
        for (int i = 0; i < counts.length; i++) {
            x[i] = edges[i];
            y[i] = counts[i];
        }
        x[counts.length] = edges[counts.length];
        y[counts.length] = counts.length == 0 ? 0 : counts[counts.length - 1];
        XYSeries s = chart.addSeries(String.format(Locale.ROOT, "%,d examples", summary.count()), x, y);
        s.setMarker(SeriesMarkers.NONE);
        s.setFillColor(new Color(0x1f, 0x77, 0xb4, 0x80));
        s.setLineColor(new Color(0x1f77b4));
        double top = 0;
        for (long c : counts) {
            top = Math.max(top, c);
        }
        addVertical(chart, String.format(Locale.ROOT, "median %.3g", summary.median()), summary.median(), top,
                new Color(0xd62728));
        addVertical(chart, String.format(Locale.ROOT, "geometric mean %.3g", summary.geometricMean()),
                summary.geometricMean(), top, new Color(0x2ca02c));
        save(chart, png);
    }

    /**
     * Several data sets' histograms of Rg overlaid on one log x axis, a step line each with its name,
     * example count and median in the legend (counts as shares of each data set, so sets of different
     * sizes compare).
     */
    static void rgHistograms(List<RgReport.Histogram> hists, List<String> names, List<RgSummary> summaries, String title,
            Path png) throws IOException {
        XYChart chart = new XYChartBuilder().width(900).height(500).title(title)
                .xAxisTitle("Rg = completion tokens / prompt tokens (log scale)").yAxisTitle("share of examples").build();
        Styler styler = chart.getStyler();
        chart.getStyler().setXAxisLogarithmic(true);
        styler.setLegendPosition(Styler.LegendPosition.InsideNE);
        chart.getStyler().setChartBackgroundColor(Color.WHITE);
        for (int d = 0; d < hists.size(); d++) {
            double[] edges = hists.get(d).edges();
            long[] counts = hists.get(d).counts();
            if (counts.length == 0) {
                continue; // nothing to draw on a log axis
            }
            long total = 0;
            for (long c : counts) {
                total += c;
            }
            double[] x = new double[counts.length + 1];
            double[] y = new double[counts.length + 1];
            for (int i = 0; i < counts.length; i++) {
                x[i] = edges[i];
                y[i] = (double) counts[i] / total;
            }
            x[counts.length] = edges[counts.length];
            y[counts.length] = y[counts.length - 1];
            XYSeries s = chart.addSeries(String.format(Locale.ROOT, "%s (%,d, median %.3g)", names.get(d),
                    summaries.get(d).count(), summaries.get(d).median()), x, y);
            s.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Step);
            s.setMarker(SeriesMarkers.NONE);
            s.setLineColor(PALETTE[(PALETTE.length - 1 - d % PALETTE.length)]);
            s.setLineWidth(2f);
        }
        if (chart.getSeriesMap().isEmpty()) {
            XYSeries s = chart.addSeries("no defined Rg", new double[] {0.1, 10}, new double[] {0, 0});
            s.setMarker(SeriesMarkers.NONE);
        }
        save(chart, png);
    }

    /** A vertical line at {@code x = value} drawn as a two-point series, so that it has a legend entry. */
    private static void addVertical(XYChart chart, String name, double value, double top, Color color) {
        if (Double.isFinite(value) && value > 0 && top > 0) {
            XYSeries s = chart.addSeries(name, new double[] {value, value}, new double[] {0, top});
            s.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
            s.setMarker(SeriesMarkers.NONE);
            s.setLineColor(color);
            s.setLineWidth(2f);
        }
    }

    /**
     * The experiment's curves: one panel per metric, one line per PLW (the mean over seeds), x = epoch,
     * with a translucent band of one standard deviation either side when {@code sd} is given.
     *
     * @param panels metric titles
     * @param logY per panel, whether its y axis is logarithmic (all values must then be positive; a band's
     *        lower edge is kept above 0 there)
     * @param mean per PLW label: per panel, the values per epoch (NaN = missing)
     * @param sd the standard deviations, shaped as {@code mean}, or null for lines alone
     */
    static void experimentCurves(String title, List<String> panels, boolean[] logY, List<String> labels,
            double[][][] mean, double[][][] sd, int[] epochs, Path png) throws IOException {
        List<XYChart> charts = new ArrayList<>();
        double[] x = new double[epochs.length];
        for (int i = 0; i < x.length; i++) {
            x[i] = epochs[i];
        }
        for (int p = 0; p < panels.size(); p++) {
            XYChart chart = new XYChartBuilder().width(560).height(400)
                    .title(p == 0 ? title + ": " + panels.get(p) : panels.get(p))
                    .xAxisTitle("epoch").yAxisTitle(panels.get(p) + (logY[p] ? " (log scale)" : "")).build();
            chart.getStyler().setChartBackgroundColor(Color.WHITE);
            chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
            chart.getStyler().setLegendLayout(Styler.LegendLayout.Horizontal);
            chart.getStyler().setYAxisDecimalPattern(logY[p] ? "0.0###" : "0.00"); // 0.0001 on a log axis, not 0.00
            chart.getStyler().setYAxisLogarithmic(logY[p]);
            chart.getStyler().setChartTitleFont(chart.getStyler().getChartTitleFont().deriveFont(13f));
            chart.getStyler().setXAxisDecimalPattern("0");
            for (int k = 0; k < labels.size(); k++) {
                Color color = PALETTE[k % PALETTE.length];
                if (sd != null) {
                    addBand(chart, labels.get(k) + " sd", x, mean[k][p], sd[k][p], logY[p],
                            new Color(color.getRed(), color.getGreen(), color.getBlue(), 0x40));
                }
                XYSeries s = chart.addSeries(labels.get(k), x, mean[k][p]);
                s.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
                s.setLineColor(color);
                s.setMarkerColor(color);
                s.setMarker(SeriesMarkers.CIRCLE);
            }
            charts.add(chart);
        }
        int cols = 2;
        int rows = (charts.size() + cols - 1) / cols;
        Files.createDirectories(png.toAbsolutePath().getParent());
        try (OutputStream os = Files.newOutputStream(png)) {
            BitmapEncoder.saveBitmap(charts, rows, cols, os, BitmapFormat.PNG);
        }
    }

    /** The band mean ± sd as a closed polygon (upper edge left to right, lower edge back), not in the legend. */
    private static void addBand(XYChart chart, String name, double[] x, double[] mean, double[] sd, boolean log,
            Color fill) {
        int n = x.length;
        double[] px = new double[2 * n + 1];
        double[] py = new double[2 * n + 1];
        for (int i = 0; i < n; i++) {
            px[i] = x[i];
            py[i] = mean[i] + sd[i];
            double lower = mean[i] - sd[i];
            px[2 * n - 1 - i] = x[i];
            py[2 * n - 1 - i] = log && !(lower > 0) ? mean[i] / 2 : lower; // a log axis needs lower > 0
        }
        px[2 * n] = px[0];
        py[2 * n] = py[0];
        XYSeries band = chart.addSeries(name, px, py);
        band.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.PolygonArea);
        band.setFillColor(fill);
        band.setLineColor(new Color(0, 0, 0, 0));
        band.setMarker(SeriesMarkers.NONE);
        band.setShowInLegend(false);
    }

    private static void save(XYChart chart, Path png) throws IOException {
        Path parent = png.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        try (OutputStream os = Files.newOutputStream(png)) {
            BitmapEncoder.saveBitmap(chart, os, BitmapFormat.PNG);
        }
    }
}
