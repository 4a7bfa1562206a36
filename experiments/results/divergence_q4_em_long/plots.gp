# Made by `qat table`; redraw with: gnuplot plots.gp (from this folder)
set terminal pngcairo size 900,600 noenhanced
set grid
set output 'dice_vs_bits.png'
set title 'divergence_q4_em_long: val Dice (last epoch) against weight bits'
set xlabel 'weight bits (log scale; 32 = float)'
set ylabel 'Dice %'
set logscale x 2
set offsets graph 0.05, graph 0.05, 0, 0
set yrange [0:100]
set key bottom right
plot 'dice_vs_bits.dat' index 0 using 1:2:3 with yerrorlines lw 2 title 'ours fixed_ours', '' index 0 using 1:4 with linespoints dt 2 title 'paper fixed_ours', \
     'dice_vs_bits.dat' index 1 using 1:2:3 with yerrorlines lw 2 title 'ours fixed_paper', '' index 1 using 1:4 with linespoints dt 2 title 'paper fixed_paper'
unset logscale x
set offsets 0, 0, 0, 0
set autoscale y
set output 'curves_fixed_ours.png'
set title 'divergence_q4_em_long fixed_ours: mean val Dice per epoch'
set xlabel 'epoch'
set ylabel 'Dice %'
set key bottom right
plot 'curves_fixed_ours.dat' index 0 using 1:2 with lines lw 2 title 'q6_0-q0_4', \
     'curves_fixed_ours.dat' index 1 using 1:2 with lines lw 2 title 'q4_0-q0_2'
set output 'curves_fixed_paper.png'
set title 'divergence_q4_em_long fixed_paper: mean val Dice per epoch'
set xlabel 'epoch'
set ylabel 'Dice %'
set key bottom right
plot 'curves_fixed_paper.dat' index 0 using 1:2 with lines lw 2 title 'q6_0-q0_4', \
     'curves_fixed_paper.dat' index 1 using 1:2 with lines lw 2 title 'q4_0-q0_2'
