# Made by `qat table`; redraw with: gnuplot plots.gp (from this folder)
set terminal pngcairo size 900,600 noenhanced
set grid
set output 'dice_vs_bits.png'
set title 'requantize_upsample_colin27_quick: val Dice (last epoch) against weight bits'
set xlabel 'weight bits (log scale; 32 = float)'
set ylabel 'Dice %'
set logscale x 2
set offsets graph 0.05, graph 0.05, 0, 0
set yrange [0:100]
set key bottom right
plot 'dice_vs_bits.dat' index 0 using 1:2:3 with yerrorlines lw 2 title 'ours off', '' index 0 using 1:4 with linespoints dt 2 title 'paper off', \
     'dice_vs_bits.dat' index 1 using 1:2:3 with yerrorlines lw 2 title 'ours on', '' index 1 using 1:4 with linespoints dt 2 title 'paper on'
unset logscale x
set offsets 0, 0, 0, 0
set autoscale y
set output 'curves_off.png'
set title 'requantize_upsample_colin27_quick off: mean val Dice per epoch'
set xlabel 'epoch'
set ylabel 'Dice %'
set key bottom right
plot 'curves_off.dat' index 0 using 1:2 with lines lw 2 title "twos_q6_0-q0_4", \
     'curves_off.dat' index 1 using 1:2 with lines lw 2 title "fixed_q6_0-q0_4"
set output 'curves_on.png'
set title 'requantize_upsample_colin27_quick on: mean val Dice per epoch'
set xlabel 'epoch'
set ylabel 'Dice %'
set key bottom right
plot 'curves_on.dat' index 0 using 1:2 with lines lw 2 title "twos_q6_0-q0_4", \
     'curves_on.dat' index 1 using 1:2 with lines lw 2 title "fixed_q6_0-q0_4"
