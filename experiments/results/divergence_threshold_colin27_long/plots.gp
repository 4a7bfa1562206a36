# Made by `qat table`; redraw with: gnuplot plots.gp (from this folder)
set terminal pngcairo size 900,600 noenhanced
set grid
set output 'dice_vs_bits.png'
set title 'divergence_threshold_colin27_long: val Dice (last epoch) against weight bits'
set xlabel 'weight bits (log scale; 32 = float)'
set ylabel 'Dice %'
set logscale x 2
set offsets graph 0.05, graph 0.05, 0, 0
set yrange [0:100]
set key bottom right
plot 'dice_vs_bits.dat' index 0 using 1:2:3 with yerrorlines lw 2 title 'ours t0.5', '' index 0 using 1:4 with linespoints dt 2 title 'paper t0.5', \
     'dice_vs_bits.dat' index 1 using 1:2:3 with yerrorlines lw 2 title 'ours t0.999', '' index 1 using 1:4 with linespoints dt 2 title 'paper t0.999'
unset logscale x
set offsets 0, 0, 0, 0
set autoscale y
set output 'curves_t0.5.png'
set title 'divergence_threshold_colin27_long t0.5: mean val Dice per epoch'
set xlabel 'epoch'
set ylabel 'Dice %'
set key bottom right
plot 'curves_t0.5.dat' index 0 using 1:2 with lines lw 2 title 'fp', \
     'curves_t0.5.dat' index 1 using 1:2 with lines lw 2 title 'q4_0-q0_2', \
     'curves_t0.5.dat' index 2 using 1:2 with lines lw 2 title 'bnn'
set output 'curves_t0.999.png'
set title 'divergence_threshold_colin27_long t0.999: mean val Dice per epoch'
set xlabel 'epoch'
set ylabel 'Dice %'
set key bottom right
plot 'curves_t0.999.dat' index 0 using 1:2 with lines lw 2 title 'fp', \
     'curves_t0.999.dat' index 1 using 1:2 with lines lw 2 title 'q4_0-q0_2', \
     'curves_t0.999.dat' index 2 using 1:2 with lines lw 2 title 'bnn'
